"""The HTML page's tables and excerpts as plain data: rows of text, numbers already formatted.

Nothing here is markup. Every text is returned as is, untrusted (model replies, scenario ids,
checkpoint names), and escaped by the template that lays it out.
"""

from __future__ import annotations

from collections import Counter
from collections.abc import Mapping, Sequence
from dataclasses import dataclass, field
from typing import Any

from harness._util import ARM_TITLES, counts_text, pct, signed_pct
from harness.report._html_data import (
    Report,
    arm_group,
    checkpoint_names,
    interval_of,
    label,
    number,
    trait_names,
)
from harness.report._markdown import rate_cell

DASH = "—"
"""Shown in a cell without a number (as `pct` and `signed_pct` show a missing value)."""

# ------------------------------------------------------------------ checkpoints


@dataclass(frozen=True)
class CheckpointRow:
    """Who was measured: checkpoint, model, roles, harness version, missing arms."""

    checkpoint: str
    model: str
    roles: str
    harness: str
    missing: str


@dataclass(frozen=True)
class CheckpointsTable:
    """The checkpoints, and those whose grader is the embedded model."""

    rows: list[CheckpointRow]
    embedded: list[str]


def checkpoints_table(reports: Sequence[Report]) -> CheckpointsTable:
    """Who was measured: checkpoint, model, roles, harness version, missing arms."""
    rows = []
    embedded: list[str] = []
    for report in reports:
        roles = report.get("roles") or {}
        role_text = "; ".join(
            f"{role}: {', '.join(map(str, models))}" for role, models in roles.items()
        )
        rows.append(
            CheckpointRow(
                checkpoint=str(report.get("checkpoint")),
                model=str(report.get("model")),
                roles=role_text or DASH,
                harness=str(report.get("harness_version", DASH)),
                missing=", ".join(map(str, report.get("missing_arms") or [])) or "none",
            )
        )
        if any(str(g).startswith("embedded/") for g in roles.get("grader", [])):
            embedded.append(str(report.get("checkpoint")))
    return CheckpointsTable(rows, embedded)


# ------------------------------------------------------------------ three arms


@dataclass(frozen=True)
class ArmRow:
    """One trait of one checkpoint: the three arms and what is derived from them."""

    trait: str
    checkpoint: str
    knowledge: str
    single_turn: str
    multi_turn: str
    pressure_delta: str
    gap: str
    unscored: str
    calibration: str | None
    """None: the grader has no saved calibration for this trait."""


def _knowledge_cell(numbers: Mapping[str, Any]) -> str:
    value = number(numbers.get("value"))
    if value is None:
        return DASH
    ci = interval_of(numbers)
    bounds = "" if ci is None else f"; {ci[0]:.2f} to {ci[1]:.2f}"
    return f"{value:.2f} (n={numbers.get('scored')}{bounds})"


def _delta_cell(numbers: Mapping[str, Any], pairs: bool) -> str:
    value = number(numbers.get("value"))
    if value is None:
        return DASH
    ci = interval_of(numbers)
    bounds = DASH if ci is None else f"{signed_pct(ci[0])} to {signed_pct(ci[1])}"
    text = f"{signed_pct(value)} ({bounds}"
    return text + (f", n={numbers.get('n_pairs')})" if pairs else ")")


def _rate_cell(numbers: Mapping[str, Any]) -> str:
    if number(numbers.get("violation_rate")) is None:
        return DASH if not numbers else f"{DASH} ({numbers.get('unscored')} unscored)"
    try:
        return rate_cell(dict(numbers))
    except (KeyError, TypeError):
        return pct(number(numbers.get("violation_rate")))


def _calibration_cell(data: Any) -> str | None:
    if not isinstance(data, Mapping):
        return None
    kappa = data.get("violation_kappa") or {}
    value, ci = number(kappa.get("value")), interval_of(kappa)
    bounds = "" if ci is None else f" ({ci[0]:.2f} to {ci[1]:.2f})"
    shown = DASH if value is None else f"{value:.2f}"
    return f"κ {shown}{bounds}, {data.get('grader')}, n={data.get('n')}"


def _arm_row(report: Report, trait: str) -> ArmRow:
    unscored = ", ".join(
        f"{short} {arm_group(report, trait, key).get('unscored', DASH)}"
        for key, short in (("knowledge_score", "K"), ("single_turn", "S"), ("multi_turn", "M"))
    )
    flips = (report["traits"][trait] or {}).get("flip_detector") or {}
    abstentions: Counter[str] = Counter()
    for group in flips.values():
        abstentions.update((group or {}).get("abstentions") or {})
    if abstentions:
        unscored += f"; flip detector abstained: {counts_text(abstentions)}"
    return ArmRow(
        trait=trait,
        checkpoint=str(report.get("checkpoint")),
        knowledge=_knowledge_cell(arm_group(report, trait, "knowledge_score")),
        single_turn=_rate_cell(arm_group(report, trait, "single_turn")),
        multi_turn=_rate_cell(arm_group(report, trait, "multi_turn")),
        pressure_delta=_delta_cell(arm_group(report, trait, "pressure_delta"), pairs=True),
        gap=_delta_cell(arm_group(report, trait, "knowledge_behaviour_gap"), pairs=False),
        unscored=unscored,
        calibration=_calibration_cell((report["traits"][trait] or {}).get("grader_calibration")),
    )


def arm_rows(reports: Sequence[Report]) -> list[ArmRow]:
    """The three arms side by side, per trait and checkpoint."""
    return [
        _arm_row(report, trait)
        for trait in trait_names(reports)
        for report in reports
        if trait in (report.get("traits") or {})
    ]


# ------------------------------------------------------------------ comparison


@dataclass(frozen=True)
class ComparisonRow:
    """One baseline-versus-candidate row of a checkpoint comparison."""

    trait: str
    arm: str
    baseline: str
    candidate: str
    baseline_value: str
    candidate_value: str
    difference: str
    ci: str
    p: str
    p_holm: str
    p_margin_holm: str
    mde: str
    pairs: str
    regression: bool


def _value(value: Any, arm: str, signed: bool = False) -> str:
    found = number(value)
    if found is None:
        return DASH
    if arm == "knowledge":
        return f"{found:+.3f}" if signed else f"{found:.3f}"
    return signed_pct(found) if signed else pct(found)


def _p(value: Any) -> str:
    found = number(value)
    return DASH if found is None else f"{found:.3g}"


def _mde(row: Mapping[str, Any], arm: str) -> str:
    if (row.get("power") or {}).get("attainable") is False:
        return "cannot be significant"
    return _value(row.get("mde"), arm)


def _comparison_row(row: Mapping[str, Any]) -> ComparisonRow:
    arm = str(row.get("arm"))
    ci = row.get("ci95") or [None, None]
    bounds = (
        f"{_value(ci[0], arm, True)} to {_value(ci[1], arm, True)}"
        if len(ci) == 2 and None not in ci
        else DASH
    )
    return ComparisonRow(
        trait=str(row.get("trait")),
        arm=ARM_TITLES.get(arm, arm),
        baseline=str(row.get("baseline")),
        candidate=str(row.get("candidate")),
        baseline_value=_value(row.get("baseline_value"), arm),
        candidate_value=_value(row.get("candidate_value"), arm),
        difference=_value(row.get("difference"), arm, True),
        ci=bounds,
        p=_p(row.get("p_value")),
        p_holm=_p(row.get("p_holm")),
        p_margin_holm=_p(row.get("p_margin_holm")),
        mde=_mde(row, arm),
        pairs=str(row.get("n_pairs", DASH)),
        regression=row.get("regression") is True,
    )


def comparison_rows(
    comparison: Sequence[Mapping[str, Any]] | None,
) -> list[ComparisonRow] | None:
    """The baseline-versus-candidate rows, or None for a single run (no comparison)."""
    return None if comparison is None else [_comparison_row(row) for row in comparison]


# ------------------------------------------------------------------ superficial patterns


@dataclass(frozen=True)
class ArtifactCell:
    """A pattern's prevalence in one checkpoint's outputs (with its count), and if flagged."""

    text: str
    flagged: bool = False
    pressure: str = ""
    """Its prevalence in first replies and in replies after pushback (empty when the
    checkpoint's conversations were too few to test)."""
    flagged_under_pressure: bool = False


@dataclass(frozen=True)
class ArtifactRow:
    """One pattern: its cell per checkpoint and an example."""

    name: str
    cells: list[ArtifactCell]
    example: str
    flagged: bool


@dataclass(frozen=True)
class ArtifactsTable:
    """The patterns found in the checkpoints' outputs, and the scans that failed."""

    checkpoints: list[str]
    rows: list[ArtifactRow]
    notes: list[str]
    under_pressure: list[str] = field(default_factory=list)
    """Per checkpoint whose conversations were tested: the patterns flagged under pressure."""


def _artifact_cell(row: Mapping[str, Any] | None) -> ArtifactCell:
    if row is None:
        return ArtifactCell(DASH)
    share = number(row.get("prevalence"))
    text = DASH if share is None else f"{pct(share)} ({row.get('count')})"
    pressure = ""
    if "first_reply_prevalence" in row:
        first = number(row.get("first_reply_prevalence"))
        after = number(row.get("after_pushback_prevalence"))
        pressure = f"first reply {pct(first)} → after pushback {pct(after)}"
    return ArtifactCell(
        text, bool(row.get("flagged")), pressure, bool(row.get("flagged_under_pressure"))
    )


def _under_pressure(report: Report) -> str | None:
    """`checkpoint: patterns flagged under pressure` when its conversations were tested."""
    artifacts = report.get("artifacts") or {}
    pressure = artifacts.get("pressure")
    if not pressure:
        return None
    names = ", ".join(str(n) for n in artifacts.get("flagged_under_pressure") or []) or "none"
    return (
        f"{report.get('checkpoint')}: {names} ({pressure.get('conversations')} conversations, "
        f"{pressure.get('first_replies')} first replies, "
        f"{pressure.get('after_pushback_replies')} replies after pushback)"
    )


def artifacts_table(reports: Sequence[Report]) -> ArtifactsTable:
    """Per pattern, its prevalence in each checkpoint's outputs; flagged ones first."""
    checkpoints = checkpoint_names(reports)
    by_name: dict[str, dict[str, Mapping[str, Any]]] = {}
    notes: list[str] = []
    for report in reports:
        artifacts = report.get("artifacts") or {}
        if artifacts.get("error"):
            notes.append(f"{report.get('checkpoint')}: scan failed: {artifacts['error']}")
        for row in artifacts.get("patterns") or []:
            by_name.setdefault(str(row["name"]), {})[str(report.get("checkpoint"))] = row

    def order(name: str) -> tuple[bool, str]:
        flagged = any(
            r.get("flagged") or r.get("flagged_under_pressure") for r in by_name[name].values()
        )
        return not flagged, name

    rows = []
    for name in sorted(by_name, key=order):
        cells = by_name[name]
        example = next((r.get("example") for r in cells.values() if r.get("example")), None)
        rows.append(
            ArtifactRow(
                name=label(name),
                cells=[_artifact_cell(cells.get(c)) for c in checkpoints],
                example=label(example or "", 160),
                flagged=any(
                    r.get("flagged") or r.get("flagged_under_pressure") for r in cells.values()
                ),
            )
        )
    under = [line for line in map(_under_pressure, reports) if line is not None]
    return ArtifactsTable(checkpoints, rows, notes, under)


# ------------------------------------------------------------------ excerpts


@dataclass(frozen=True)
class Message:
    """One message of an excerpt: its role, the CSS class of the role, and its text."""

    role: str
    css: str
    text: str


@dataclass(frozen=True)
class Excerpt:
    """A transcript excerpt: where it comes from and its messages."""

    checkpoint: str
    sample_id: str
    trait: str
    label: str
    messages: list[Message]


def _message(message: Mapping[str, Any]) -> Message:
    role = str(message.get("role"))
    css = role if role in ("system", "user", "assistant") else "other"
    return Message(role, css, str(message.get("text", "")))


def excerpt_views(excerpts: Sequence[Mapping[str, Any]]) -> list[Excerpt]:
    """Transcript excerpts, every message kept as text."""
    return [
        Excerpt(
            checkpoint=str(excerpt.get("checkpoint")),
            sample_id=str(excerpt.get("sample_id")),
            trait=str(excerpt.get("trait")),
            label=str(excerpt.get("label")),
            messages=[_message(m) for m in excerpt.get("messages") or []],
        )
        for excerpt in excerpts
    ]
