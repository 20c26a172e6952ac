"""A self-contained HTML report: report documents, a comparison and excerpts, with plots.

The page needs no network to view: inline CSS, plots as inline SVG drawn by matplotlib,
and one inline script of its own that counts the plots the browser rendered. Every text
taken from reports and transcripts is untrusted (model output, scenario ids, checkpoint
names) and is HTML-escaped; the plots carry no text nodes at all (glyphs are paths and
matplotlib's text comments are removed), and a Content-Security-Policy forbids any
other script and any fetch.

The page is laid out by the Jinja2 template `templates/report.html.j2` (with
`report.css` and `report.js` beside it); Python prepares the data: the plots in
`_html_plots`, the tables and excerpts in `_html_sections`.
"""

from __future__ import annotations

import base64
import hashlib
import html
from collections.abc import Mapping, Sequence
from functools import cache
from pathlib import Path
from typing import Any

import jinja2
from markupsafe import Markup

from harness._util import EMBEDDED_GRADER_NOTE
from harness.report._compare import Comparison
from harness.report._excerpts import excerpts_for
from harness.report._html_data import Report, checkpoint_names
from harness.report._html_plots import plot_sections
from harness.report._html_sections import (
    arm_rows,
    artifacts_table,
    checkpoints_table,
    comparison_rows,
    excerpt_views,
)
from harness.report._markdown import report_scorer, verdict_judge

TEMPLATES = Path(__file__).resolve().parent / "templates"
"""The page's template, stylesheet and script (packaged with the module)."""


def _escape(value: Any) -> Markup:
    """Every value the template shows, escaped as `html.escape` does (quotes too).

    Markup (the sanitised plots, the stylesheet, the script, the template's macros) is
    kept as is; anything else is untrusted text.
    """
    if hasattr(value, "__html__"):
        return Markup(value)
    return Markup(html.escape(str(value), quote=True))


@cache
def _environment() -> jinja2.Environment:
    return jinja2.Environment(
        loader=jinja2.FileSystemLoader(TEMPLATES),
        autoescape=True,
        undefined=jinja2.StrictUndefined,
        finalize=_escape,
        trim_blocks=True,
        lstrip_blocks=True,
        keep_trailing_newline=True,
    )


@cache
def _asset(name: str) -> str:
    """A static file of the page (stylesheet, script), read once."""
    return (TEMPLATES / name).read_text(encoding="utf-8")


def _script() -> str:
    """The page's only script, which starts on a line of its own."""
    return "\n" + _asset("report.js")


def _script_hash(script: str) -> str:
    digest = hashlib.sha256(script.encode("utf-8")).digest()
    return "sha256-" + base64.b64encode(digest).decode("ascii")


def render_html(
    reports: Sequence[Report],
    comparison: Sequence[Mapping[str, Any]] | None = None,
    warnings: Sequence[str] = (),
    excerpts: Sequence[Mapping[str, Any]] = (),
    title: str = "harness report",
    decision: str | None = None,
) -> str:
    """One self-contained HTML page: tables, inline SVG plots and transcript excerpts.

    Args:
        reports: `report.json` documents (`Report.as_dict()`), one per checkpoint.
        comparison: Rows of a checkpoint comparison, or None for a single run.
        warnings: The comparison's warnings.
        excerpts: Transcript excerpts: checkpoint, sample_id, trait, label, messages
            (each a role and a text). Model text is untrusted and shown as text.
        title: The page title.
        decision: The comparison's decision rule in one sentence (which rule decided).

    Returns:
        The page. The same input always gives the same bytes.

    """
    plots = plot_sections(reports)
    script = _script()
    csp = (
        "default-src 'none'; style-src 'unsafe-inline'; "
        f"script-src '{_script_hash(script)}'; base-uri 'none'; form-action 'none'"
    )
    return (
        _environment()
        .get_template("report.html.j2")
        .render(
            title=title,
            csp=csp,
            style=Markup(_asset("report.css")),
            script=Markup(script),
            plots_expected=sum(section.svg is not None for section in plots),
            checkpoints=checkpoint_names(reports),
            checkpoints_table=checkpoints_table(reports),
            embedded_grader_note=EMBEDDED_GRADER_NOTE,
            judge=verdict_judge(report_scorer(r) for r in reports),
            comparison=comparison_rows(comparison),
            decision=decision,
            warnings=list(warnings),
            arms=arm_rows(reports),
            plots=plots,
            artifacts=artifacts_table(reports),
            excerpts=excerpt_views(excerpts),
        )
    )


def write_html(
    path: str | Path,
    reports: Sequence[Report],
    comparison: Sequence[Mapping[str, Any]] | None = None,
    warnings: Sequence[str] = (),
    excerpts: Sequence[Mapping[str, Any]] = (),
    title: str = "harness report",
    decision: str | None = None,
) -> Path:
    """Render the page (see `render_html`) and write it to `path` as UTF-8; returns the path."""
    target = Path(path)
    target.parent.mkdir(parents=True, exist_ok=True)
    page = render_html(reports, comparison, warnings, excerpts, title, decision)
    target.write_text(page, encoding="utf-8")
    return target


def render_comparison_html(comparison: Comparison, title: str) -> str:
    """The page of a checkpoint comparison: its reports, rows, warnings, excerpts and rule."""
    document = comparison.as_dict()
    return render_html(
        comparison.reports,
        comparison=document["comparisons"],
        warnings=document["warnings"],
        excerpts=excerpts_for(comparison),
        decision=document["decision"]["statement"],
        title=title,
    )
