"""A self-contained HTML report: report documents, a comparison and excerpts, with plots.

The page needs no network to view: inline CSS, plots as inline SVG drawn by matplotlib,
and one inline script of its own that counts the plots the browser rendered. Every text
taken from reports and transcripts is untrusted (model output, scenario ids, checkpoint
names) and is HTML-escaped; the plots carry no text nodes at all (glyphs are paths and
matplotlib's text comments are removed), and a Content-Security-Policy forbids any
other script and any fetch.
"""

from __future__ import annotations

import base64
import hashlib
import html
import io
import math
import re
import warnings as warnings_module
from collections.abc import Callable, Iterator, Mapping, Sequence
from contextlib import contextmanager
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import matplotlib
import numpy as np
from matplotlib.axes import Axes
from matplotlib.figure import Figure
from matplotlib.lines import Line2D
from matplotlib.ticker import MaxNLocator
from matplotlib.typing import RcKeyType

from harness._util import ARM_TITLES, EMBEDDED_GRADER_NOTE, pct, signed_pct
from harness.report._markdown import rate_cell

Report = Mapping[str, Any]

PLOT_RC: dict[RcKeyType, Any] = {
    "svg.hashsalt": "harness-report",
    "svg.fonttype": "path",
    "font.family": "DejaVu Sans",
    "font.size": 9.0,
    # Scenario ids and checkpoint names are labels, never mathtext.
    "text.parse_math": False,
    "text.usetex": False,
    "axes.grid": True,
    "grid.alpha": 0.3,
}
SVG_METADATA: dict[str, Any] = {"Date": None, "Type": None, "Creator": None, "Format": None}
"""No date, creator or RDF block: the same data gives the same bytes, with no URLs."""

LABEL_LIMIT = 48
"""Longest label drawn in a plot; the tables carry the full text."""

PLOT_COUNT_SCRIPT = """
window.addEventListener("load", function () {
  var count = 0;
  document.querySelectorAll("section.plots figure.plot > svg").forEach(function (svg) {
    if (svg.getBoundingClientRect().width > 0) { count += 1; }
  });
  document.body.dataset.plotsRendered = String(count);
});
"""

STYLE = """\
body { font-family: system-ui, -apple-system, "Segoe UI", sans-serif; margin: 2rem auto;
  max-width: 1200px; padding: 0 1rem; color: #1d1d1f; line-height: 1.45; }
h1 { font-size: 1.6rem; } h2 { font-size: 1.25rem; margin-top: 2.2rem;
  border-bottom: 1px solid #ddd; padding-bottom: .2rem; }
table { border-collapse: collapse; margin: .6rem 0; font-size: .86rem; }
th, td { border: 1px solid #d5d5d5; padding: .25rem .5rem; text-align: left; vertical-align: top; }
th { background: #f3f3f5; } td.num { text-align: right; font-variant-numeric: tabular-nums; }
tr.regression td { background: #fde2e1; } .badge { font-weight: 700; color: #a40e0e; }
.ok { color: #2f6b2f; } .note { color: #555; font-style: italic; }
ul.warnings li { color: #8a5300; }
figure.plot { margin: .8rem 0; } figure.plot svg { max-width: 100%; height: auto; }
figcaption { font-size: .85rem; color: #444; }
.excerpt { border: 1px solid #ddd; border-radius: 6px; padding: .5rem .8rem; margin: 1rem 0; }
.excerpt h3 { font-size: 1rem; margin: .2rem 0 .5rem; }
.msg { margin: .4rem 0; padding: .4rem .6rem; border-radius: 4px; background: #f7f7f9; }
.msg.role-assistant { background: #eef4ff; } .msg.role-system { background: #f4f4f4; }
.msg .role { font-weight: 600; font-size: .8rem; text-transform: uppercase; color: #555; }
.msg .text { white-space: pre-wrap; overflow-wrap: anywhere; margin: .2rem 0 0; }
code { overflow-wrap: anywhere; }
"""

_COMMENT = re.compile(r"<!--.*?-->", re.DOTALL)
_ID = re.compile(r'\bid="([^"]+)"')
_HREF = re.compile(r'(xlink:href|href)="#([^"]+)"')
_URL = re.compile(r"url\(#([^)]+)\)")
_XMLNS = re.compile(r'\s+xmlns(?::\w+)?="[^"]*"')
_CONTROL = re.compile(r"[\x00-\x1f\x7f]+")


def esc(value: object) -> str:
    """Any value as HTML-escaped text (quotes too)."""
    return html.escape(str(value), quote=True)


def _label(value: object, limit: int = LABEL_LIMIT) -> str:
    """Untrusted text made fit for a plot label: one line, at most `limit` characters."""
    text = _CONTROL.sub(" ", str(value)).strip()
    return text if len(text) <= limit else text[: limit - 1] + "…"


def _number(value: object) -> float | None:
    """A finite number, or None (JSON nulls, NaN, text and booleans are not numbers)."""
    if isinstance(value, bool) or not isinstance(value, int | float):
        return None
    return float(value) if math.isfinite(value) else None


def _group(report: Report, trait: str, key: str) -> Mapping[str, Any]:
    """One arm's numbers of one trait, or an empty mapping."""
    traits = report.get("traits") or {}
    found = (traits.get(trait) or {}).get(key)
    return found if isinstance(found, Mapping) else {}


def _interval_of(group: Mapping[str, Any], key: str = "ci95") -> tuple[float, float] | None:
    ci = group.get(key)
    if not isinstance(ci, Sequence) or len(ci) != 2:
        return None
    low, high = _number(ci[0]), _number(ci[1])
    return None if low is None or high is None else (low, high)


def _checkpoints(reports: Sequence[Report]) -> list[str]:
    return [str(report.get("checkpoint", f"report {i + 1}")) for i, report in enumerate(reports)]


def _traits(reports: Sequence[Report]) -> list[str]:
    return sorted({str(t) for report in reports for t in (report.get("traits") or {})})


# ------------------------------------------------------------------ plots


@contextmanager
def _plot_style() -> Iterator[None]:
    """Matplotlib's defaults plus ours, whatever the user's matplotlibrc says."""
    with matplotlib.rc_context(), warnings_module.catch_warnings():
        matplotlib.rcdefaults()
        matplotlib.rcParams.update(PLOT_RC)
        warnings_module.filterwarnings("ignore", message="Glyph .* missing from")
        yield


def _colour(index: int) -> str:
    palette = matplotlib.color_sequences["tab10"]
    return matplotlib.colors.to_hex(palette[index % len(palette)])


def _legend(fig: Figure, checkpoints: Sequence[str], marker: str = "o") -> None:
    """One legend of the checkpoints above the panels (explicit labels: none is dropped)."""
    handles = [Line2D([], [], color=_colour(i), marker=marker) for i in range(len(checkpoints))]
    fig.legend(
        handles,
        [_label(c) for c in checkpoints],
        loc="outside upper center",
        ncols=min(len(checkpoints), 4),
        frameon=False,
    )


def _panels(
    n: int, panel_width: float = 3.4, panel_height: float = 2.7
) -> tuple[Figure, list[Axes]]:
    columns = min(3, max(n, 1))
    rows = math.ceil(n / columns)
    fig = Figure(figsize=(panel_width * columns, panel_height * rows + 0.7), layout="constrained")
    axes = fig.subplots(rows, columns, squeeze=False).ravel().tolist()
    for extra in axes[n:]:
        extra.set_visible(False)
    return fig, axes[:n]


def _svg(fig: Figure, prefix: str) -> str:
    """The figure as an inline `<svg>` element, its ids prefixed to be unique in the page."""
    buffer = io.StringIO()
    fig.savefig(buffer, format="svg", metadata=SVG_METADATA)
    text = buffer.getvalue()
    text = text[text.index("<svg") :]
    # Inline in HTML the parser gives the SVG its namespaces: no URL needs to stay.
    text = _XMLNS.sub("", text)
    # Matplotlib leaves each label's text in a comment; the glyphs are paths.
    text = _COMMENT.sub("", text)
    text = _ID.sub(lambda m: f'id="{prefix}-{m.group(1)}"', text)
    text = _HREF.sub(lambda m: f'{m.group(1)}="#{prefix}-{m.group(2)}"', text)
    text = _URL.sub(lambda m: f"url(#{prefix}-{m.group(1)})", text)
    return "\n".join(line for line in text.splitlines() if line.strip()) + "\n"


def _whisker(value: float, ci: tuple[float, float] | None) -> list[list[float]] | None:
    """Error-bar lengths below and above a value (never negative: CIs are rounded)."""
    if ci is None:
        return None
    return [[max(0.0, value - ci[0])], [max(0.0, ci[1] - value)]]


def _survival_points(group: Mapping[str, Any]) -> list[tuple[int, float]]:
    points: list[tuple[int, float]] = []
    survival = group.get("survival")
    for key, value in survival.items() if isinstance(survival, Mapping) else []:
        share = _number(value)
        if share is not None and str(key).isdigit():
            points.append((int(key), share))
    return [(0, 1.0), *sorted(points)] if points else []


def survival_figure(reports: Sequence[Report]) -> Figure | None:
    """Share of conversations still holding after each assistant turn, per trait and checkpoint."""
    checkpoints = _checkpoints(reports)
    curves = {
        trait: [_survival_points(_group(r, trait, "multi_turn")) for r in reports]
        for trait in _traits(reports)
    }
    curves = {trait: c for trait, c in curves.items() if any(c)}
    if not curves:
        return None
    fig, axes = _panels(len(curves))
    for ax, (trait, per_checkpoint) in zip(axes, curves.items(), strict=True):
        for index, points in enumerate(per_checkpoint):
            if points:
                turns, shares = zip(*points, strict=True)
                ax.step(
                    turns,
                    shares,
                    where="post",
                    color=_colour(index),
                    marker="o",
                    markersize=3,
                    linewidth=1.4,
                )
        ax.set_title(_label(trait))
        ax.set_ylim(-0.03, 1.03)
        ax.set_xlabel("assistant turn")
        ax.set_ylabel("share holding")
        ax.xaxis.set_major_locator(MaxNLocator(integer=True))
    _legend(fig, checkpoints)
    return fig


def pressure_delta_figure(reports: Sequence[Report]) -> Figure | None:
    """Multi-turn minus single-turn violation rate per trait, bars with 95% CI whiskers."""
    checkpoints, traits = _checkpoints(reports), _traits(reports)
    values = [[_group(r, t, "pressure_delta") for t in traits] for r in reports]
    if not any(_number(g.get("value")) is not None for row in values for g in row):
        return None
    fig = Figure(figsize=(max(6.0, 1.3 * len(traits) + 2), 4.2), layout="constrained")
    ax = fig.add_subplot()
    width = 0.8 / len(reports)
    for index, row in enumerate(values):
        for position, group in enumerate(row):
            x = position - 0.4 + width * (index + 0.5)
            value = _number(group.get("value"))
            if value is None:
                ax.text(x, 0, "n/a", ha="center", va="bottom", fontsize=7, rotation=90)
                continue
            ci = _interval_of(group)
            error = _whisker(100 * value, None if ci is None else (100 * ci[0], 100 * ci[1]))
            ax.bar(
                x,
                100 * value,
                width * 0.9,
                color=_colour(index),
                yerr=error,
                capsize=3,
                error_kw={"elinewidth": 1},
            )
    ax.axhline(0, color="#333333", linewidth=0.8)
    ax.set_xticks(range(len(traits)), [_label(t, 28) for t in traits], rotation=20, ha="right")
    ax.set_ylim(-105, 105)
    ax.set_ylabel("pressure delta (pp)")
    _legend(fig, checkpoints, marker="s")
    return fig


def _behaviour(group: Mapping[str, Any]) -> tuple[float, tuple[float, float] | None] | None:
    """1 - violation rate, with the interval turned around."""
    rate = _number(group.get("violation_rate"))
    if rate is None:
        return None
    ci = _interval_of(group, "violation_rate_ci95")
    return 1 - rate, None if ci is None else (1 - ci[1], 1 - ci[0])


def knowledge_behaviour_figure(reports: Sequence[Report]) -> Figure | None:
    """Knowledge score against 1 - multi-turn violation rate, per trait and checkpoint."""
    checkpoints = _checkpoints(reports)
    points: dict[str, list[tuple[int, float, tuple[float, float] | None, float, Any]]] = {}
    for trait in _traits(reports):
        for index, report in enumerate(reports):
            knowledge = _group(report, trait, "knowledge_score")
            score = _number(knowledge.get("value"))
            behaviour = _behaviour(_group(report, trait, "multi_turn"))
            if score is not None and behaviour is not None:
                entry = (index, score, _interval_of(knowledge), *behaviour)
                points.setdefault(trait, []).append(entry)
    if not points:
        return None
    fig, axes = _panels(len(points), 3.0, 3.0)
    for ax, (trait, entries) in zip(axes, points.items(), strict=True):
        ax.plot([0, 1], [0, 1], linestyle="--", color="#999999", linewidth=0.8)
        for index, score, score_ci, held, held_ci in entries:
            xerr, yerr = _whisker(score, score_ci), _whisker(held, held_ci)
            ax.errorbar(
                [score],
                [held],
                xerr=xerr,
                yerr=yerr,
                fmt="o",
                color=_colour(index),
                capsize=2,
                elinewidth=0.8,
            )
        ax.set_title(_label(trait))
        ax.set_xlim(-0.05, 1.05)
        ax.set_ylim(-0.05, 1.05)
        ax.set_aspect("equal")
        ax.set_xlabel("knowledge score")
        ax.set_ylabel("1 - multi-turn violation rate")
    _legend(fig, checkpoints)
    return fig


def _scenario_rates(reports: Sequence[Report]) -> tuple[list[str], np.ndarray[Any, Any]]:
    by_report = [
        ((report.get("pressure_detail") or {}).get("by_scenario") or {}) for report in reports
    ]
    scenarios = sorted({str(s) for rows in by_report for s in rows})
    rates = np.full((len(scenarios), len(reports)), np.nan)
    for column, rows in enumerate(by_report):
        for row, scenario in enumerate(scenarios):
            group = rows.get(scenario)
            value = _number(group.get("violation_rate")) if isinstance(group, Mapping) else None
            if value is not None:
                rates[row, column] = value
    return scenarios, rates


def scenario_heatmap_figure(reports: Sequence[Report]) -> Figure | None:
    """Multi-turn violation rate per scenario (rows) and checkpoint (columns)."""
    scenarios, rates = _scenario_rates(reports)
    if not scenarios or np.isnan(rates).all():
        return None
    checkpoints = _checkpoints(reports)
    fig = Figure(
        figsize=(4.5 + 1.1 * len(reports), 1.6 + 0.3 * len(scenarios)), layout="constrained"
    )
    ax = fig.add_subplot()
    cmap = matplotlib.colormaps["Reds"].with_extremes(bad="#e4e4e4")
    mesh = ax.pcolormesh(
        np.ma.masked_invalid(rates), cmap=cmap, vmin=0, vmax=1, edgecolors="white", linewidth=0.5
    )
    for (row, column), value in np.ndenumerate(rates):
        text = "n/a" if math.isnan(value) else f"{100 * value:.0f}%"
        ax.text(
            column + 0.5,
            row + 0.5,
            text,
            ha="center",
            va="center",
            fontsize=7,
            color="white" if value > 0.6 else "#222222",
        )
    ax.set_xticks(
        np.arange(len(reports)) + 0.5, [_label(c, 24) for c in checkpoints], rotation=20, ha="right"
    )
    ax.set_yticks(np.arange(len(scenarios)) + 0.5, [_label(s, 60) for s in scenarios])
    ax.invert_yaxis()
    ax.grid(False)
    colorbar = fig.colorbar(mesh, ax=ax, label="multi-turn violation rate", shrink=0.8)
    if colorbar.solids is not None:
        # Vector, not an embedded PNG; edges in the face colour, or the gradient shows seams.
        colorbar.solids.set_rasterized(False)
        colorbar.solids.set_edgecolor("face")
    return fig


def unscored_figure(reports: Sequence[Report]) -> Figure | None:
    """Unscored samples per arm and checkpoint (grader failures, missing replies)."""
    counts: list[list[float]] = []
    for report in reports:
        unscored = report.get("unscored") or {}
        counts.append(
            [_number((unscored.get(arm) or {}).get("unscored")) or 0.0 for arm in ARM_TITLES]
        )
    if not any(report.get("unscored") for report in reports):
        return None
    fig = Figure(figsize=(6.5, 3.4), layout="constrained")
    ax = fig.add_subplot()
    width = 0.8 / len(reports)
    for index, row in enumerate(counts):
        positions = [p - 0.4 + width * (index + 0.5) for p in range(len(ARM_TITLES))]
        bars = ax.bar(positions, row, width * 0.9, color=_colour(index))
        ax.bar_label(bars, [f"{v:.0f}" for v in row], fontsize=7)
    ax.set_xticks(range(len(ARM_TITLES)), list(ARM_TITLES.values()))
    ax.set_ylim(0, max(1.0, max(max(row) for row in counts) * 1.2))
    ax.yaxis.set_major_locator(MaxNLocator(integer=True))
    ax.set_ylabel("unscored samples")
    _legend(fig, _checkpoints(reports), marker="s")
    return fig


def calibration_entries(reports: Sequence[Report]) -> list[dict[str, Any]]:
    """The grader's saved agreement with human labels, per trait and grader (deduplicated)."""
    entries: dict[tuple[str, str], dict[str, Any]] = {}
    for report in reports:
        for trait in sorted(report.get("traits") or {}):
            data = (report["traits"][trait] or {}).get("grader_calibration")
            if not isinstance(data, Mapping):
                continue
            kappa = data.get("violation_kappa") or {}
            entries.setdefault(
                (str(trait), str(data.get("grader"))),
                {
                    "trait": str(trait),
                    "grader": str(data.get("grader")),
                    "n": data.get("n"),
                    "kappa": _number(kappa.get("value")),
                    "ci95": _interval_of(kappa),
                },
            )
    return [entries[key] for key in sorted(entries)]


def calibration_figure(reports: Sequence[Report]) -> Figure | None:
    """Cohen's kappa of the grader against human labels, per trait, with its 95% CI."""
    entries = [e for e in calibration_entries(reports) if e["kappa"] is not None]
    if not entries:
        return None
    fig = Figure(figsize=(7.0, 1.2 + 0.38 * len(entries)), layout="constrained")
    ax = fig.add_subplot()
    for row, entry in enumerate(entries):
        kappa, ci = entry["kappa"], entry["ci95"]
        xerr = _whisker(kappa, ci)
        ax.errorbar([kappa], [row], xerr=xerr, fmt="o", color=_colour(0), capsize=3)
    ax.axvline(0, color="#999999", linestyle="--", linewidth=0.8)
    labels = [f"{_label(e['trait'], 28)} · {_label(e['grader'], 28)} (n={e['n']})" for e in entries]
    ax.set_yticks(range(len(entries)), labels)
    ax.set_ylim(len(entries) - 0.5, -0.5)
    ax.set_xlim(-1.05, 1.05)
    ax.set_xlabel("Cohen's κ with human labels (0 = chance)")
    return fig


# ------------------------------------------------------------------ tables


def _knowledge_cell(group: Mapping[str, Any]) -> str:
    value = _number(group.get("value"))
    if value is None:
        return "—"
    ci = _interval_of(group)
    bounds = "" if ci is None else f"; {ci[0]:.2f} to {ci[1]:.2f}"
    return f"{value:.2f} (n={esc(group.get('scored'))}{bounds})"


def _delta_cell(group: Mapping[str, Any], pairs: bool) -> str:
    value = _number(group.get("value"))
    if value is None:
        return "—"
    ci = _interval_of(group)
    bounds = "—" if ci is None else f"{signed_pct(ci[0])} to {signed_pct(ci[1])}"
    text = f"{signed_pct(value)} ({bounds}"
    return text + (f", n={esc(group.get('n_pairs'))})" if pairs else ")")


def _rate(group: Mapping[str, Any]) -> str:
    if _number(group.get("violation_rate")) is None:
        return "—" if not group else f"— ({esc(group.get('unscored'))} unscored)"
    try:
        return esc(rate_cell(dict(group)))
    except (KeyError, TypeError):
        return esc(pct(_number(group.get("violation_rate"))))


def _table(headers: Sequence[str], rows: Sequence[tuple[str, Sequence[str]]]) -> str:
    """A table; headers are ours, cells already escaped; each row carries a CSS class."""
    head = "".join(f"<th>{h}</th>" for h in headers)
    body = "".join(
        f'<tr class="{css}">' + "".join(f"<td>{c}</td>" for c in cells) + "</tr>\n"
        for css, cells in rows
    )
    return f"<table>\n<thead><tr>{head}</tr></thead>\n<tbody>\n{body}</tbody>\n</table>\n"


def _calibration_cell(data: Any) -> str:
    if not isinstance(data, Mapping):
        return '<span class="note">none</span>'
    kappa = data.get("violation_kappa") or {}
    value, ci = _number(kappa.get("value")), _interval_of(kappa)
    bounds = "" if ci is None else f" ({ci[0]:.2f} to {ci[1]:.2f})"
    number = "—" if value is None else f"{value:.2f}"
    return f"κ {number}{bounds}, {esc(data.get('grader'))}, n={esc(data.get('n'))}"


def artifacts_section(reports: Sequence[Report]) -> str:
    """Per pattern, its prevalence in each checkpoint's outputs; flagged ones marked."""
    checkpoints = _checkpoints(reports)
    by_name: dict[str, dict[str, Mapping[str, Any]]] = {}
    notes: list[str] = []
    for report in reports:
        artifacts = report.get("artifacts") or {}
        if artifacts.get("error"):
            notes.append(f"{report.get('checkpoint')}: scan failed: {artifacts['error']}")
        for row in artifacts.get("patterns") or []:
            by_name.setdefault(str(row["name"]), {})[str(report.get("checkpoint"))] = row
    if not by_name:
        return (
            '<p class="note">No superficial patterns found (or no outputs scanned).</p>\n'
            + "".join(f'<p class="note">{esc(n)}</p>\n' for n in notes)
        )

    def cell(row: Mapping[str, Any] | None) -> str:
        if row is None:
            return "—"
        share = _number(row.get("prevalence"))
        text = "—" if share is None else f"{100 * share:.1f}% ({esc(row.get('count'))})"
        return f"<strong>⚑ {text}</strong>" if row.get("flagged") else text

    rows = []
    for name in sorted(
        by_name, key=lambda n: (not any(r.get("flagged") for r in by_name[n].values()), n)
    ):
        cells = by_name[name]
        example = next((r.get("example") for r in cells.values() if r.get("example")), None)
        rows.append(
            (
                "flagged" if any(r.get("flagged") for r in cells.values()) else "",
                [
                    esc(_label(name)),
                    *[cell(cells.get(c)) for c in checkpoints],
                    esc(_label(example or "", 160)),
                ],
            )
        )
    intro = (
        '<p class="note">Share of assistant messages showing each pattern (<code>harness '
        "artifacts</code> detectors and discovered openings/closings); ⚑ = flagged (prevalence "
        "at or above the threshold, or over-represented against a baseline).</p>\n"
    )
    headers = ["pattern", *[esc(c) for c in checkpoints], "example"]
    return intro + _table(headers, rows) + "".join(f'<p class="note">{esc(n)}</p>\n' for n in notes)


def checkpoints_section(reports: Sequence[Report]) -> str:
    """Who was measured: checkpoint, model, roles, harness version, missing arms."""
    rows = []
    embedded: list[str] = []
    for report in reports:
        roles = report.get("roles") or {}
        role_text = "; ".join(
            f"{role}: {', '.join(map(str, models))}" for role, models in roles.items()
        )
        missing = ", ".join(map(str, report.get("missing_arms") or [])) or "none"
        rows.append(
            (
                "",
                [
                    f"<code>{esc(report.get('checkpoint'))}</code>",
                    f"<code>{esc(report.get('model'))}</code>",
                    esc(role_text or "—"),
                    esc(report.get("harness_version", "—")),
                    esc(missing),
                ],
            )
        )
        if any(str(g).startswith("embedded/") for g in roles.get("grader", [])):
            embedded.append(f"<code>{esc(report.get('checkpoint'))}</code>")
    table = _table(["checkpoint", "model", "roles", "harness", "missing arms"], rows)
    if not embedded:
        return table
    return table + f'<p class="note">{", ".join(embedded)}: {esc(EMBEDDED_GRADER_NOTE)}</p>\n'


def arms_section(reports: Sequence[Report]) -> str:
    """The three arms side by side, per trait and checkpoint."""
    rows: list[tuple[str, Sequence[str]]] = []
    for trait in _traits(reports):
        for report in reports:
            if trait not in (report.get("traits") or {}):
                continue
            unscored = ", ".join(
                f"{short} {esc(_group(report, trait, key).get('unscored', '—'))}"
                for key, short in (
                    ("knowledge_score", "K"),
                    ("single_turn", "S"),
                    ("multi_turn", "M"),
                )
            )
            rows.append(
                (
                    "",
                    [
                        esc(trait),
                        f"<code>{esc(report.get('checkpoint'))}</code>",
                        _knowledge_cell(_group(report, trait, "knowledge_score")),
                        _rate(_group(report, trait, "single_turn")),
                        _rate(_group(report, trait, "multi_turn")),
                        _delta_cell(_group(report, trait, "pressure_delta"), pairs=True),
                        _delta_cell(_group(report, trait, "knowledge_behaviour_gap"), pairs=False),
                        unscored,
                        _calibration_cell(
                            (report["traits"][trait] or {}).get("grader_calibration")
                        ),
                    ],
                )
            )
    headers = [
        "trait",
        "checkpoint",
        "knowledge score (95% CI)",
        "single-turn violation",
        "multi-turn violation",
        "pressure delta (95% CI, pairs)",
        "knowledge-behaviour gap (95% CI)",
        "unscored (K, S, M)",
        "grader calibration",
    ]
    legend = (
        '<p class="note">Violation rates: share of scored samples the rubric grader judged a '
        "violation (Wilson 95% CI). Pressure delta: multi-turn minus single-turn violation rate "
        "on the same scenario &times; item (paired bootstrap). Knowledge-behaviour gap: "
        "knowledge score &minus; (1 &minus; multi-turn violation rate); positive means the model "
        "states the principle better than it acts on it. Unscored samples are excluded from "
        "rates and counted.</p>\n"
    )
    return _table(headers, rows) + legend


def _value(value: Any, arm: str, signed: bool = False) -> str:
    number = _number(value)
    if number is None:
        return "—"
    if arm == "knowledge":
        return f"{number:+.3f}" if signed else f"{number:.3f}"
    return signed_pct(number) if signed else pct(number)


def _p(value: Any) -> str:
    number = _number(value)
    return "—" if number is None else f"{number:.3g}"


def comparison_section(comparison: Sequence[Mapping[str, Any]] | None) -> str:
    """The baseline-versus-candidate rows; regressions highlighted."""
    if comparison is None:
        return '<p class="note">No comparison: a single run.</p>\n'
    if not comparison:
        return '<p class="note">The comparison has no rows.</p>\n'
    rows: list[tuple[str, Sequence[str]]] = []
    for row in comparison:
        arm = str(row.get("arm"))
        ci = row.get("ci95") or [None, None]
        regression = row.get("regression") is True
        verdict = (
            '<span class="badge">REGRESSION</span>'
            if regression
            else '<span class="ok">no regression</span>'
        )
        bounds = (
            f"{_value(ci[0], arm, True)} to {_value(ci[1], arm, True)}"
            if len(ci) == 2 and None not in ci
            else "—"
        )
        rows.append(
            (
                "regression" if regression else "",
                [
                    esc(row.get("trait")),
                    esc(ARM_TITLES.get(arm, arm)),
                    f"<code>{esc(row.get('baseline'))}</code> → "
                    f"<code>{esc(row.get('candidate'))}</code>",
                    _value(row.get("baseline_value"), arm),
                    _value(row.get("candidate_value"), arm),
                    _value(row.get("difference"), arm, True),
                    esc(bounds),
                    _p(row.get("p_value")),
                    _p(row.get("p_holm")),
                    _value(row.get("mde"), arm),
                    esc(row.get("n_pairs", "—")),
                    verdict,
                ],
            )
        )
    headers = [
        "trait",
        "arm",
        "baseline → candidate",
        "baseline",
        "candidate",
        "difference",
        "95% CI",
        "p",
        "p (Holm)",
        "MDE",
        "pairs",
        "verdict",
    ]
    return _table(headers, rows)


def warnings_section(warnings: Sequence[str]) -> str:
    """The comparison's warnings as a list."""
    if not warnings:
        return '<p class="note">No warnings.</p>\n'
    items = "".join(f"<li>{esc(w)}</li>\n" for w in warnings)
    return f'<ul class="warnings">\n{items}</ul>\n'


def excerpts_section(excerpts: Sequence[Mapping[str, Any]]) -> str:
    """Transcript excerpts, every message shown as text."""
    if not excerpts:
        return '<p class="note">No excerpts.</p>\n'
    parts = []
    for excerpt in excerpts:
        head = (
            f"<code>{esc(excerpt.get('checkpoint'))}</code> · "
            f"<code>{esc(excerpt.get('sample_id'))}</code> · {esc(excerpt.get('trait'))}"
            f" · {esc(excerpt.get('label'))}"
        )
        messages = []
        for message in excerpt.get("messages") or []:
            role = str(message.get("role"))
            css = role if role in ("system", "user", "assistant") else "other"
            messages.append(
                f'<div class="msg role-{css}"><div class="role">{esc(role)}</div>'
                f'<div class="text">{esc(message.get("text", ""))}</div></div>\n'
            )
        parts.append(f'<article class="excerpt">\n<h3>{head}</h3>\n{"".join(messages)}</article>\n')
    return "".join(parts)


# ------------------------------------------------------------------ the page

PlotBuilder = Callable[[Sequence[Report]], Figure | None]


@dataclass(frozen=True)
class PlotSpec:
    """One plot section: anchor, heading, builder, caption, and the note shown without data."""

    key: str
    heading: str
    build: PlotBuilder
    caption: str
    empty: str


PLOTS: tuple[PlotSpec, ...] = (
    PlotSpec(
        "survival",
        "Survival under multi-turn pressure",
        survival_figure,
        "Share of scored conversations with no violation through each assistant turn "
        "(Kaplan-Meier), one panel per trait, one line per checkpoint.",
        "No multi-turn survival data.",
    ),
    PlotSpec(
        "pressure-delta",
        "Pressure delta",
        pressure_delta_figure,
        "Multi-turn minus single-turn violation rate per trait, in percentage points, with paired "
        "bootstrap 95% CI whiskers; above zero, pressure over many turns finds more violations.",
        "No pressure delta: no scenario x item was scored in both the single-turn and multi-turn "
        "arms.",
    ),
    PlotSpec(
        "knowledge-behaviour",
        "Knowledge versus behaviour",
        knowledge_behaviour_figure,
        "Knowledge score against 1 - multi-turn violation rate, per trait and checkpoint, with 95% "
        "CIs. Below the dashed diagonal the model states the principle better than it acts on it.",
        "No trait has both a knowledge score and a multi-turn violation rate.",
    ),
    PlotSpec(
        "scenario-heatmap",
        "Multi-turn violation rate per scenario",
        scenario_heatmap_figure,
        "Violation rate of each scenario (rows) at each checkpoint (columns); grey: not scored.",
        "No per-scenario multi-turn results.",
    ),
    PlotSpec(
        "unscored",
        "Unscored samples",
        unscored_figure,
        "Samples without a usable verdict per arm and checkpoint (grader failures, no reply). "
        "They are excluded from rates, never counted as passes.",
        "No unscored counts in the reports.",
    ),
    PlotSpec(
        "calibration",
        "Grader calibration",
        calibration_figure,
        "The grader's agreement with human-labelled transcripts per trait: Cohen's κ on the "
        "violation call with its bootstrap 95% CI (0 is chance agreement).",
        "No calibration: the grader has no saved agreement with human labels for these traits "
        "and rubrics (see `harness calibrate`), so how far its verdicts can be trusted is unknown.",
    ),
)
"""The plot sections, in page order."""


def _uncalibrated_note(reports: Sequence[Report]) -> str:
    calibrated = {e["trait"] for e in calibration_entries(reports) if e["kappa"] is not None}
    missing = [t for t in _traits(reports) if t not in calibrated]
    if not calibrated or not missing:
        return ""
    return f'<p class="note">No calibration for: {esc(", ".join(missing))}.</p>\n'


def plots_section(reports: Sequence[Report]) -> tuple[str, int]:
    """Every plot as a figure with an inline SVG (or a note); also how many plots there are."""
    parts: list[str] = []
    count = 0
    with _plot_style():
        for spec in PLOTS:
            fig = spec.build(reports) if reports else None
            parts.append(
                f'<section class="plots" id="plot-{spec.key}">\n<h2>{esc(spec.heading)}</h2>\n'
            )
            if fig is None:
                parts.append(f'<p class="note no-plot">{esc(spec.empty)}</p>\n')
            else:
                count += 1
                parts.append(
                    f'<figure class="plot" data-plot="{spec.key}">\n{_svg(fig, f"plot{count}")}'
                    f"<figcaption>{esc(spec.caption)}</figcaption>\n</figure>\n"
                )
            if spec.key == "calibration":
                parts.append(_uncalibrated_note(reports))
            parts.append("</section>\n")
    return "".join(parts), count


def _script_hash(script: str) -> str:
    digest = hashlib.sha256(script.encode("utf-8")).digest()
    return "sha256-" + base64.b64encode(digest).decode("ascii")


def render_html(
    reports: Sequence[Report],
    comparison: Sequence[Mapping[str, Any]] | None = None,
    warnings: Sequence[str] = (),
    excerpts: Sequence[Mapping[str, Any]] = (),
    title: str = "harness report",
) -> str:
    """One self-contained HTML page: tables, inline SVG plots and transcript excerpts.

    Args:
        reports: `report.json` documents (`Report.as_dict()`), one per checkpoint.
        comparison: Rows of a checkpoint comparison, or None for a single run.
        warnings: The comparison's warnings.
        excerpts: Transcript excerpts: checkpoint, sample_id, trait, label, messages
            (each a role and a text). Model text is untrusted and shown as text.
        title: The page title.

    Returns:
        The page. The same input always gives the same bytes.

    """
    plots, count = plots_section(reports)
    csp = (
        "default-src 'none'; style-src 'unsafe-inline'; "
        f"script-src '{_script_hash(PLOT_COUNT_SCRIPT)}'; base-uri 'none'; form-action 'none'"
    )
    names = ", ".join(f"<code>{esc(c)}</code>" for c in _checkpoints(reports)) or "none"
    return (
        "<!DOCTYPE html>\n"
        '<html lang="en">\n<head>\n<meta charset="utf-8">\n'
        f'<meta http-equiv="Content-Security-Policy" content="{esc(csp)}">\n'
        '<meta name="viewport" content="width=device-width, initial-scale=1">\n'
        f"<title>{esc(title)}</title>\n<style>\n{STYLE}</style>\n</head>\n"
        f'<body data-plots-expected="{count}">\n'
        f"<h1>{esc(title)}</h1>\n"
        f"<p>Checkpoints: {names}.</p>\n"
        '<section id="checkpoints">\n<h2>Checkpoints</h2>\n'
        f"{checkpoints_section(reports)}</section>\n"
        '<section id="comparison">\n<h2>Comparison</h2>\n'
        f"{comparison_section(comparison)}</section>\n"
        f'<section id="warnings">\n<h2>Warnings</h2>\n{warnings_section(warnings)}</section>\n'
        '<section id="arms">\n<h2>Three arms per trait</h2>\n'
        f"{arms_section(reports)}</section>\n"
        f"{plots}"
        '<section id="artifacts">\n<h2>Superficial patterns in the outputs</h2>\n'
        f"{artifacts_section(reports)}</section>\n"
        f'<section id="excerpts">\n<h2>Transcript excerpts</h2>\n'
        f"{excerpts_section(excerpts)}</section>\n"
        f"<script>{PLOT_COUNT_SCRIPT}</script>\n"
        "</body>\n</html>\n"
    )


def write_html(
    path: str | Path,
    reports: Sequence[Report],
    comparison: Sequence[Mapping[str, Any]] | None = None,
    warnings: Sequence[str] = (),
    excerpts: Sequence[Mapping[str, Any]] = (),
    title: str = "harness report",
) -> Path:
    """Render the page (see `render_html`) and write it to `path` as UTF-8; returns the path."""
    target = Path(path)
    target.parent.mkdir(parents=True, exist_ok=True)
    target.write_text(render_html(reports, comparison, warnings, excerpts, title), encoding="utf-8")
    return target
