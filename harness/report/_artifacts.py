"""Superficial patterns in run reports and checkpoint comparisons.

`harness run`/`report` summarise the patterns flagged in one checkpoint's outputs (every
assistant message of its logs) and, when its pressure conversations are enough to test,
each pattern's prevalence in first replies and in replies after pushback with the patterns
flagged under pressure; `harness compare` scans each candidate against the
baseline and warns about patterns that are newly flagged: over-represented against the
baseline (Holm-corrected Fisher test), or over the prevalence threshold now but not before.
A scan that fails never fails the report: it is noted instead.
"""

from __future__ import annotations

from collections.abc import Sequence
from pathlib import Path
from typing import Any

from harness._util import ValidationFailed
from harness.artifacts import ArtifactsReport, ArtifactsSettings, PatternRow, analyse_artifacts

SHOWN_PATTERNS = 12
"""Detector patterns listed per checkpoint in a report (flagged ones first)."""


def _row(row: PatternRow, pressure: bool = False) -> dict[str, Any]:
    """A pattern's summary; with `pressure`, its first-reply vs after-pushback prevalence."""
    summary = {
        "name": row.name,
        "kind": row.kind,
        "origin": row.origin,
        "count": row.count,
        "prevalence": row.prevalence,
        "baseline_prevalence": row.baseline_prevalence,
        "ratio": row.ratio,
        "p_holm": row.p_holm,
        "flagged": row.flagged,
        "flag_reasons": row.flag_reasons,
        "example": row.examples[0].text if row.examples else None,
    }
    if pressure:
        under = row.pressure
        summary |= {
            "first_reply_prevalence": under.first_reply_prevalence if under else None,
            "after_pushback_prevalence": under.after_pushback_prevalence if under else None,
            "p_holm_under_pressure": under.p_holm if under else None,
            "flagged_under_pressure": bool(under and under.flagged),
        }
    return summary


def _pressure(report: ArtifactsReport) -> dict[str, Any]:
    """The conversations behind the first-reply vs after-pushback comparison."""
    summary = report.pressure
    if summary is None:
        return {}
    return {
        "conversations": summary.conversations,
        "tested_conversations": summary.tested_conversations,
        "first_replies": summary.first_replies,
        "after_pushback_replies": summary.after_pushback_replies,
        "alpha": report.settings.alpha,
    }


def artifacts_summary(
    paths: Sequence[Path], settings: ArtifactsSettings | None = None
) -> dict[str, Any]:
    """Flagged patterns and the most prevalent detector patterns of one checkpoint's logs."""
    try:
        report = analyse_artifacts(paths, settings=settings or ArtifactsSettings()).report
    except (ValidationFailed, OSError, ValueError) as exc:
        return {"n_messages": None, "patterns": [], "error": str(exc).splitlines()[0][:300]}
    # Shown only when the conversations could flag a pattern: too few say nothing here
    # (`harness artifacts` says why), and older reports stay as they were.
    pressure = report.pressure is not None and report.pressure.testable
    under = set(report.flagged_under_pressure)
    detector_rows = sorted(
        (r for r in report.patterns if r.origin == "detector" and r.count),
        key=lambda r: (not r.flagged, r.name not in under, -(r.prevalence or 0.0), r.name),
    )
    flagged_discovered = [
        r for r in report.patterns if r.origin == "discovered" and (r.flagged or r.name in under)
    ]
    shown = [*detector_rows[:SHOWN_PATTERNS], *flagged_discovered]
    shown += [r for r in report.patterns if r.name in under and r not in shown]
    summary: dict[str, Any] = {
        "n_messages": report.n_messages,
        "threshold": report.settings.threshold,
        "patterns": [_row(r, pressure) for r in shown],
        "flagged": sorted(r.name for r in report.patterns if r.flagged),
    }
    if pressure:
        summary["pressure"] = _pressure(report)
        summary["flagged_under_pressure"] = report.flagged_under_pressure
    return summary


def newly_flagged(
    baseline: Sequence[Path], candidate: Sequence[Path], settings: ArtifactsSettings | None = None
) -> dict[str, Any]:
    """Patterns flagged in the candidate's outputs that the baseline's did not have."""
    settings = settings or ArtifactsSettings()
    try:
        report = analyse_artifacts(candidate, baseline=baseline, settings=settings).report
    except (ValidationFailed, OSError, ValueError) as exc:
        return {"patterns": [], "error": str(exc).splitlines()[0][:300]}
    rows = []
    for row in report.patterns:
        if not row.flagged:
            continue
        over = any(reason.startswith("over-represented") for reason in row.flag_reasons)
        crossed = (row.prevalence or 0.0) >= settings.threshold and (
            row.baseline_prevalence is None or row.baseline_prevalence < settings.threshold
        )
        if over or crossed:
            rows.append(_row(row))
    return {
        "n_messages": report.n_messages,
        "baseline_n_messages": report.baseline_n_messages,
        "patterns": rows,
    }


def pattern_warning(candidate: str, row: dict[str, Any]) -> str:
    """One compare warning about a newly flagged pattern."""

    def share(value: float | None) -> str:
        return "—" if value is None else f"{100 * value:.1f}%"

    ratio = "" if row["ratio"] is None else f", ratio {row['ratio']:.2f}"
    p_holm = "" if row["p_holm"] is None else f", Holm p {row['p_holm']:.2g}"
    return (
        f"{candidate}: superficial pattern '{row['name']}' newly flagged in its outputs "
        f"({share(row['prevalence'])} of messages vs {share(row['baseline_prevalence'])} in the "
        f"baseline{ratio}{p_holm})"
    )
