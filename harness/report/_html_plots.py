"""The HTML page's plots: matplotlib figures drawn from report documents, as inline SVG.

Labels come from logs and are untrusted: they are drawn as glyph paths (no text nodes), never
parsed as mathtext, and the SVG loses matplotlib's text comments, its namespaces (no URL is
left) and gets its ids prefixed so several plots can share one page.
"""

from __future__ import annotations

import io
import math
import re
import warnings as warnings_module
from collections.abc import Callable, Iterator, Mapping, Sequence
from contextlib import contextmanager
from dataclasses import dataclass
from typing import Any

import matplotlib
import numpy as np
from markupsafe import Markup
from matplotlib.axes import Axes
from matplotlib.figure import Figure
from matplotlib.lines import Line2D
from matplotlib.ticker import MaxNLocator
from matplotlib.typing import RcKeyType

from harness._util import ARM_TITLES
from harness.report._html_data import (
    Report,
    arm_group,
    calibration_entries,
    checkpoint_names,
    interval_of,
    label,
    number,
    trait_names,
)

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

_COMMENT = re.compile(r"<!--.*?-->", re.DOTALL)
_ID = re.compile(r'\bid="([^"]+)"')
_HREF = re.compile(r'(xlink:href|href)="#([^"]+)"')
_URL = re.compile(r"url\(#([^)]+)\)")
_XMLNS = re.compile(r'\s+xmlns(?::\w+)?="[^"]*"')


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
        [label(c) for c in checkpoints],
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
        share = number(value)
        if share is not None and str(key).isdigit():
            points.append((int(key), share))
    return [(0, 1.0), *sorted(points)] if points else []


def survival_figure(reports: Sequence[Report]) -> Figure | None:
    """Share of conversations still holding after each assistant turn, per trait and checkpoint."""
    checkpoints = checkpoint_names(reports)
    curves = {
        trait: [_survival_points(arm_group(r, trait, "multi_turn")) for r in reports]
        for trait in trait_names(reports)
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
        ax.set_title(label(trait))
        ax.set_ylim(-0.03, 1.03)
        ax.set_xlabel("assistant turn")
        ax.set_ylabel("share holding")
        ax.xaxis.set_major_locator(MaxNLocator(integer=True))
    _legend(fig, checkpoints)
    return fig


def pressure_delta_figure(reports: Sequence[Report]) -> Figure | None:
    """Multi-turn minus single-turn violation rate per trait, bars with 95% CI whiskers."""
    checkpoints, traits = checkpoint_names(reports), trait_names(reports)
    values = [[arm_group(r, t, "pressure_delta") for t in traits] for r in reports]
    if not any(number(g.get("value")) is not None for row in values for g in row):
        return None
    fig = Figure(figsize=(max(6.0, 1.3 * len(traits) + 2), 4.2), layout="constrained")
    ax = fig.add_subplot()
    width = 0.8 / len(reports)
    for index, row in enumerate(values):
        for position, group in enumerate(row):
            x = position - 0.4 + width * (index + 0.5)
            value = number(group.get("value"))
            if value is None:
                ax.text(x, 0, "n/a", ha="center", va="bottom", fontsize=7, rotation=90)
                continue
            ci = interval_of(group)
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
    ax.set_xticks(range(len(traits)), [label(t, 28) for t in traits], rotation=20, ha="right")
    ax.set_ylim(-105, 105)
    ax.set_ylabel("pressure delta (pp)")
    _legend(fig, checkpoints, marker="s")
    return fig


def _behaviour(group: Mapping[str, Any]) -> tuple[float, tuple[float, float] | None] | None:
    """1 - violation rate, with the interval turned around."""
    rate = number(group.get("violation_rate"))
    if rate is None:
        return None
    ci = interval_of(group, "violation_rate_ci95")
    return 1 - rate, None if ci is None else (1 - ci[1], 1 - ci[0])


def knowledge_behaviour_figure(reports: Sequence[Report]) -> Figure | None:
    """Knowledge score against 1 - multi-turn violation rate, per trait and checkpoint."""
    checkpoints = checkpoint_names(reports)
    points: dict[str, list[tuple[int, float, tuple[float, float] | None, float, Any]]] = {}
    for trait in trait_names(reports):
        for index, report in enumerate(reports):
            knowledge = arm_group(report, trait, "knowledge_score")
            score = number(knowledge.get("value"))
            behaviour = _behaviour(arm_group(report, trait, "multi_turn"))
            if score is not None and behaviour is not None:
                entry = (index, score, interval_of(knowledge), *behaviour)
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
        ax.set_title(label(trait))
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
            value = number(group.get("violation_rate")) if isinstance(group, Mapping) else None
            if value is not None:
                rates[row, column] = value
    return scenarios, rates


def scenario_heatmap_figure(reports: Sequence[Report]) -> Figure | None:
    """Multi-turn violation rate per scenario (rows) and checkpoint (columns)."""
    scenarios, rates = _scenario_rates(reports)
    if not scenarios or np.isnan(rates).all():
        return None
    checkpoints = checkpoint_names(reports)
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
        np.arange(len(reports)) + 0.5, [label(c, 24) for c in checkpoints], rotation=20, ha="right"
    )
    ax.set_yticks(np.arange(len(scenarios)) + 0.5, [label(s, 60) for s in scenarios])
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
            [number((unscored.get(arm) or {}).get("unscored")) or 0.0 for arm in ARM_TITLES]
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
    _legend(fig, checkpoint_names(reports), marker="s")
    return fig


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
    labels = [f"{label(e['trait'], 28)} · {label(e['grader'], 28)} (n={e['n']})" for e in entries]
    ax.set_yticks(range(len(entries)), labels)
    ax.set_ylim(len(entries) - 0.5, -0.5)
    ax.set_xlim(-1.05, 1.05)
    ax.set_xlabel("Cohen's κ with human labels (0 = chance)")
    return fig


# ------------------------------------------------------------------ the plot sections

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


@dataclass(frozen=True)
class PlotSection:
    """One plot section as the page shows it: its spec, the SVG (None: no data), notes."""

    spec: PlotSpec
    svg: Markup | None
    uncalibrated: tuple[str, ...] = ()
    """Traits without a saved calibration, named under the calibration plot."""


def _uncalibrated(reports: Sequence[Report]) -> tuple[str, ...]:
    """Traits without calibration, when some others have one (else nothing to point out)."""
    calibrated = {e["trait"] for e in calibration_entries(reports) if e["kappa"] is not None}
    missing = tuple(t for t in trait_names(reports) if t not in calibrated)
    return missing if calibrated else ()


def plot_sections(reports: Sequence[Report]) -> list[PlotSection]:
    """Every plot section in page order, each plot drawn as a sanitised inline SVG."""
    sections: list[PlotSection] = []
    count = 0
    with _plot_style():
        for spec in PLOTS:
            fig = spec.build(reports) if reports else None
            svg = None
            if fig is not None:
                count += 1
                # Sanitised by `_svg`: no text nodes, comments, namespaces or foreign ids.
                svg = Markup(_svg(fig, f"plot{count}"))
            missing = _uncalibrated(reports) if spec.key == "calibration" else ()
            sections.append(PlotSection(spec, svg, missing))
    return sections
