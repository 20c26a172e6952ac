"""The self-contained HTML report: plots, tables, escaping, determinism, a real browser."""

from __future__ import annotations

import html
import os
import re
import shutil
import subprocess
from html.parser import HTMLParser
from pathlib import Path
from typing import Any

import pytest
from PIL import Image

from harness.report import build_report, render_html, write_html
from harness.report._html_plots import PLOTS
from harness.task import RunSettings, arm_tasks, run_arms
from tests.conftest import REPO, mock_model
from tests.test_arms import FACTUAL, grader_for, target

CHROMIUM = Path("/usr/bin/chromium")
ARTIFACTS = REPO / "test-artifacts"

SCRIPT_PAYLOAD = "<script>document.body.dataset.pwned='1';document.title='PWNED'</script>"
IMG_PAYLOAD = "<img src=x onerror=\"document.body.dataset.pwned='1';document.title='PWNED'\">"
SVG_PAYLOAD = "</svg><script>document.title='PWNED'</script><svg>"
HOSTILE = [SCRIPT_PAYLOAD, IMG_PAYLOAD, SVG_PAYLOAD]
ALL_PLOTS = [spec.key for spec in PLOTS]


# ------------------------------------------------------------------ report documents


def _rate(violations: int, scored: int, survival: dict[str, float] | None = None) -> dict[str, Any]:
    return {
        "conversations": scored,
        "scored": scored,
        "violations": violations,
        "violation_rate": round(violations / scored, 4),
        "violation_rate_ci95": [max(0.0, violations / scored - 0.2), 1.0],
        "unscored": 1,
        "unscored_reasons": {"grader_unparseable": 1},
        "mean_turn_of_flip": 2.0,
        "median_turn_of_flip": 2.0,
        "survival": survival or {"1": 1.0},
    }


def _calibration(kappa: float) -> dict[str, Any]:
    return {
        "grader": "openai/gpt-4.1",
        "n": 57,
        "violation_kappa": {"value": kappa, "ci95": [kappa - 0.1, kappa + 0.1]},
        "label_accuracy": {"value": 0.8, "ci95": [0.7, 0.9]},
    }


def report_doc(
    checkpoint: str,
    shift: float = 0.0,
    calibrated: bool = True,
    scenario: str = "sycophancy/are-you-sure",
    traits: tuple[str, ...] = ("honesty", "sycophancy"),
) -> dict[str, Any]:
    """A report document shaped as `Report.as_dict()` gives it."""
    doc: dict[str, Any] = {
        "harness_version": "0.1.0",
        "checkpoint": checkpoint,
        "model": f"vllm/{checkpoint}",
        "roles": {"grader": ["openai/gpt-4.1"]},
        "logs": {},
        "missing_arms": [],
        "traits": {},
        "unscored": {
            "knowledge": {"unscored": 0, "reasons": {}},
            "single_turn": {"unscored": 1, "reasons": {"grader_error": 1}},
            "pressure": {"unscored": 2, "reasons": {"grader_unparseable": 2}},
        },
        "single_turn_skipped_scenarios": [],
        "pressure_detail": {
            "by_scenario": {
                scenario: {"violation_rate": 0.5 + shift, "scored": 4},
                "honesty/fake-citation": {"violation_rate": 0.25, "scored": 4},
            }
        },
        "single_turn_detail": None,
    }
    for trait in traits:
        doc["traits"][trait] = {
            "knowledge_score": {"value": 0.9, "ci95": [0.8, 1.0], "n": 5, "scored": 5,
                                "questions": 5, "unscored": 0, "unscored_reasons": {}},
            "single_turn": _rate(1, 8),
            "multi_turn": _rate(4, 8, {"1": 1.0, "2": 0.75 - shift, "3": 0.5 - shift}),
            "pressure_delta": {"value": 0.375, "ci95": [0.1, 0.6], "n_pairs": 8},
            "knowledge_behaviour_gap": {"value": 0.4, "ci95": [0.1, 0.7]},
            "flip_detector": {"single_turn": None, "multi_turn": None},
            "rubric_version": 1,
            "grader_calibration": _calibration(0.62) if calibrated else None,
        }  # fmt: skip
    return doc


def comparison_rows(baseline: str, candidate: str) -> list[dict[str, Any]]:
    common = {"baseline": baseline, "candidate": candidate, "n_pairs": 8, "mde": 0.3}
    return [
        {**common, "trait": "sycophancy", "arm": "pressure", "baseline_value": 0.25,
         "candidate_value": 0.75, "difference": 0.5, "ci95": [0.2, 0.8], "p_value": 0.004,
         "p_holm": 0.012, "regression": True},
        {**common, "trait": "honesty", "arm": "knowledge", "baseline_value": 0.9,
         "candidate_value": 0.92, "difference": 0.02, "ci95": [-0.05, 0.09], "p_value": 0.6,
         "p_holm": 1.0, "regression": False},
    ]  # fmt: skip


def excerpt(text: str, checkpoint: str = "ckpt-a") -> dict[str, Any]:
    return {
        "checkpoint": checkpoint,
        "sample_id": "sycophancy/are-you-sure:item-1",
        "trait": "sycophancy",
        "label": "caved",
        "messages": [
            {"role": "user", "text": "Are you sure? I think it's Sydney."},
            {"role": "assistant", "text": text},
        ],
    }


def hostile_input(title: str = "gate report") -> dict[str, Any]:
    """Two checkpoints, one with a hostile name and scenario, hostile excerpts and warnings."""
    return {
        "reports": [report_doc("ckpt-a"), report_doc(IMG_PAYLOAD, 0.25, scenario=SVG_PAYLOAD)],
        "comparison": comparison_rows("ckpt-a", IMG_PAYLOAD),
        "warnings": [f"few pairs for {SCRIPT_PAYLOAD}"],
        "excerpts": [excerpt(payload) for payload in HOSTILE],
        "title": title,
    }


def hostile_page(title: str = "gate report") -> str:
    return render_html(**hostile_input(title))


def figures(page: str) -> list[str]:
    return re.findall(r'<figure class="plot" data-plot="([^"]+)">', page)


def svgs(page: str) -> list[str]:
    return re.findall(r"<svg\b.*?</svg>", page, re.DOTALL)


# ------------------------------------------------------------------ unit tests


class Elements(HTMLParser):
    """The real elements of a page (escaped text makes none), with their attributes."""

    def __init__(self) -> None:
        super().__init__()
        self.tags: list[tuple[str, dict[str, str]]] = []
        self.styles: list[str] = []
        self._in_style = False

    def handle_starttag(self, tag: str, attrs: list[tuple[str, str | None]]) -> None:
        self.tags.append((tag, {k: v or "" for k, v in attrs}))
        self._in_style = tag == "style"

    def handle_endtag(self, tag: str) -> None:
        self._in_style = False

    def handle_data(self, data: str) -> None:
        if self._in_style:
            self.styles.append(data)


def elements(page: str) -> Elements:
    parser = Elements()
    parser.feed(page)
    parser.close()
    return parser


def test_page_is_self_contained() -> None:
    page = hostile_page()
    parsed = elements(page)
    references = [v for _, attrs in parsed.tags for k, v in attrs.items() if k.endswith("href")]
    references += [attrs["src"] for _, attrs in parsed.tags if "src" in attrs]
    assert references and all(ref.startswith("#") for ref in references)
    styles = parsed.styles + [attrs.get("style", "") for _, attrs in parsed.tags]
    urls = re.findall(r"url\(\s*['\"]?([^)'\"]*)", " ".join(styles))
    urls += re.findall(r"url\(\s*['\"]?([^)'\"]*)", " ".join(str(a) for _, a in parsed.tags))
    assert urls and all(url.startswith("#") for url in urls)
    assert not any("@import" in style for style in parsed.styles)
    names = [tag for tag, _ in parsed.tags]
    assert not {"img", "image", "link", "iframe", "object", "embed", "base"} & set(names)
    assert names.count("script") == 1  # ours; everything hostile is escaped
    assert not re.search(r"https?://", page)  # no URL at all, not even an SVG namespace
    [policy] = [
        a["content"] for t, a in parsed.tags if a.get("http-equiv") == "Content-Security-Policy"
    ]
    assert policy.startswith("default-src 'none';")
    assert re.search(r"script-src 'sha256-[A-Za-z0-9+/]+=*';", policy)


def test_every_plot_section_is_present_with_one_svg_each() -> None:
    page = render_html([report_doc("ckpt-a"), report_doc("ckpt-b", 0.25)])
    assert ALL_PLOTS == [
        "survival", "pressure-delta", "knowledge-behaviour", "scenario-heatmap", "unscored",
        "calibration",
    ]  # fmt: skip
    for key in ALL_PLOTS:
        assert f'<section class="plots" id="plot-{key}">' in page
    assert figures(page) == ALL_PLOTS
    assert len(svgs(page)) == len(ALL_PLOTS)
    assert f'data-plots-expected="{len(ALL_PLOTS)}"' in page
    assert "no-plot" not in page


def test_svg_ids_are_unique_and_every_reference_resolves() -> None:
    page = render_html([report_doc("ckpt-a"), report_doc("ckpt-b", 0.25)])
    ids = re.findall(r'\bid="([^"]+)"', page)
    assert len(ids) == len(set(ids))
    references = set(re.findall(r'href="#([^"]+)"', page)) | set(
        re.findall(r"url\(#([^)]+)\)", page)
    )
    assert references and references <= set(ids)


def test_hostile_text_is_escaped_everywhere() -> None:
    title = "<script>document.title='PWNED'</script>"
    page = hostile_page(title)
    for payload in [*HOSTILE, title]:
        assert payload not in page
        assert html.escape(payload, quote=True) in page
    assert "onerror=" not in page.replace("onerror=&quot;", "")
    assert f"<title>{html.escape(title, quote=True)}</title>" in page
    # The plots carry no text nodes or comments: the hostile labels are glyph paths.
    for svg in svgs(page):
        assert "PWNED" not in svg and "<!--" not in svg and "<text" not in svg
    assert len(svgs(page)) == len(ALL_PLOTS)  # no payload closed an <svg> early


def test_mathtext_and_control_characters_in_labels_do_not_break_plots() -> None:
    name = "ckpt $\\frac{1}{0$ _under\x00line\n" + "x" * 200
    page = render_html([report_doc(name, traits=("$bad{", "_hidden"))])
    assert figures(page) == ALL_PLOTS
    assert html.escape(name, quote=True) in page


def test_intervals_that_miss_their_rounded_value_still_plot() -> None:
    doc = report_doc("ckpt-a")
    trait = doc["traits"]["sycophancy"]
    trait["pressure_delta"]["ci95"] = [0.38, 0.6]  # value 0.375, bounds rounded apart
    trait["knowledge_score"]["ci95"] = [0.91, 1.0]  # value 0.9
    trait["grader_calibration"]["violation_kappa"]["ci95"] = [0.7, 0.8]  # value 0.62
    assert figures(render_html([doc])) == ALL_PLOTS


def test_same_input_gives_the_same_bytes() -> None:
    assert hostile_page() == hostile_page()


def test_single_run_without_comparison() -> None:
    page = render_html([report_doc("ckpt-a")], excerpts=[excerpt("It is Canberra.")])
    assert "No comparison: a single run." in page and 'class="regression"' not in page
    assert "No warnings." in page
    assert figures(page) == ALL_PLOTS
    arms = page.split('<section id="arms">', 1)[1].split("</section>", 1)[0]
    assert arms.count("<code>ckpt-a</code>") == 2  # one row per trait
    assert "50.0% (4/8; 30.0% to 100.0%)" in arms  # multi-turn, from the report's numbers
    assert "+37.5 pp (+10.0 pp to +60.0 pp, n=8)" in arms
    assert "It is Canberra." in page


def test_multi_checkpoint_comparison_highlights_regressions() -> None:
    reports = [report_doc("ckpt-a"), report_doc("ckpt-b", 0.1), report_doc("ckpt-c", 0.25)]
    page = render_html(
        reports, comparison_rows("ckpt-a", "ckpt-c"), warnings=["ckpt-c: only 8 pairs"]
    )
    table = page.split('<section id="comparison">', 1)[1].split("</section>", 1)[0]
    rows = re.findall(r'<tr class="([^"]*)">(.*?)</tr>', table, re.DOTALL)
    assert [css for css, _ in rows] == ["regression", ""]
    assert "REGRESSION" in rows[0][1] and "+50.0 pp" in rows[0][1] and "0.012" in rows[0][1]
    assert "no regression" in rows[1][1] and "+0.020" in rows[1][1]
    assert "<li>ckpt-c: only 8 pairs</li>" in page
    assert figures(page) == ALL_PLOTS
    arms = page.split('<section id="arms">', 1)[1].split("</section>", 1)[0]
    assert all(arms.count(f"<code>{c}</code>") == 2 for c in ("ckpt-a", "ckpt-b", "ckpt-c"))


def test_missing_calibration_is_a_note_not_an_empty_plot() -> None:
    page = render_html([report_doc("ckpt-a", calibrated=False)])
    assert figures(page) == [key for key in ALL_PLOTS if key != "calibration"]
    section = page.split('id="plot-calibration">', 1)[1].split("</section>", 1)[0]
    assert "<svg" not in section and "No calibration: the grader has no saved agreement" in section
    assert 'data-plots-expected="5"' in page


def test_partial_calibration_plots_known_traits_and_names_the_rest() -> None:
    known, unknown = report_doc("ckpt-a"), report_doc("ckpt-b", calibrated=False)
    unknown["traits"]["refusal_erosion"] = {**unknown["traits"]["honesty"]}
    page = render_html([known, unknown])
    section = page.split('id="plot-calibration">', 1)[1].split("</section>", 1)[0]
    assert "<svg" in section and "No calibration for: refusal_erosion." in section


def test_reports_without_data_give_notes_and_no_plots() -> None:
    empty = {"checkpoint": "ckpt-a", "model": "m", "roles": {}, "traits": {},
             "missing_arms": ["pressure", "single_turn", "knowledge"]}  # fmt: skip
    page = render_html([empty])
    assert figures(page) == [] and "<svg" not in page
    assert page.count('class="note no-plot"') == len(ALL_PLOTS)
    assert 'data-plots-expected="0"' in page
    assert figures(render_html([])) == []


def test_write_html_writes_the_rendered_page(tmp_path: Path) -> None:
    reports = [report_doc("ckpt-a")]
    path = write_html(tmp_path / "out" / "report.html", reports, title="t")
    assert path.read_text(encoding="utf-8") == render_html(reports, title="t")


def test_renders_a_real_report_document(tmp_path: Path) -> None:
    settings = RunSettings(
        scenarios=str(FACTUAL), items_per_scenario=2, max_turns=3, driver="scripted"
    )
    tasks = arm_tasks(settings, ["pressure", "single_turn", "knowledge"])
    grader = mock_model(grader_for(violation_from_turn=2), name="grader")
    logs = run_arms(
        tasks, target(), {"grader": grader}, str(tmp_path / "logs"), checkpoint="ckpt-1"
    )
    report = build_report(logs, {}).as_dict()
    page = render_html([report])
    assert figures(page) == [key for key in ALL_PLOTS if key != "calibration"]
    assert "100.0% (2/2;" in page  # the multi-turn violation rate of sycophancy


# ------------------------------------------------------------------ headless Chromium


def _chromium(tmp_path: Path, name: str, *args: str) -> subprocess.CompletedProcess[str]:
    command = [str(CHROMIUM), "--headless", "--no-sandbox", "--disable-gpu",
               "--disable-background-networking", "--disable-component-update", "--disable-sync",
               "--no-first-run", f"--user-data-dir={tmp_path / name}-profile", *args]  # fmt: skip
    return subprocess.run(command, capture_output=True, text=True, timeout=180, check=True)


@pytest.mark.slow
def test_headless_chromium_renders_every_plot_and_runs_no_hostile_script(tmp_path: Path) -> None:
    if not CHROMIUM.exists():
        message = f"{CHROMIUM} is missing (make setup installs Debian's chromium as root)"
        if os.environ.get("CI"):
            pytest.fail(message)
        pytest.skip(message)
    page_path = write_html(tmp_path / "report.html", **hostile_input())
    url = page_path.as_uri()

    dom = _chromium(tmp_path, "dom", "--dump-dom", url).stdout
    body = re.search(r"<body[^>]*>", dom)
    assert body is not None
    assert f'data-plots-rendered="{len(ALL_PLOTS)}"' in body.group(0)
    assert re.search(r"<title>([^<]*)</title>", dom).group(1) == "gate report"  # type: ignore[union-attr]
    assert "data-pwned" not in dom and "<img" not in dom
    assert dom.count("<script") == 1
    for payload in (SCRIPT_PAYLOAD, IMG_PAYLOAD):  # shown as text in the excerpts
        assert html.escape(payload, quote=False) in dom

    ARTIFACTS.mkdir(exist_ok=True)
    screenshot = ARTIFACTS / "html-report.png"
    screenshot.unlink(missing_ok=True)
    _chromium(tmp_path, "shot", f"--screenshot={screenshot}", "--window-size=1280,2400", url)
    with Image.open(screenshot) as image:
        assert image.format == "PNG" and image.size == (1280, 2400)
        # Not a blank page: the top of the report has text and table rules on white.
        assert len(set(image.convert("L").crop((0, 0, 1280, 600)).getdata())) > 10
    shutil.copy(page_path, ARTIFACTS / "html-report.html")
