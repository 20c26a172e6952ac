"""Superficial patterns in run reports and checkpoint comparisons.

`harness run`/`report` summarise the patterns flagged in one checkpoint's outputs (every
assistant message of its logs); `harness compare` scans each candidate against the
baseline and warns about patterns that are newly flagged: over-represented against the
baseline (Holm-corrected Fisher test), or over the prevalence threshold now but not before.
A scan that fails never fails the report: it is noted instead.
"""

from __future__ import annotations

from collections.abc import Sequence
from pathlib import Path
from typing import Any

from harness._util import ValidationFailed
from harness.artifacts import ArtifactsSettings, PatternRow, analyse_artifacts

SHOWN_PATTERNS = 12
"""Detector patterns listed per checkpoint in a report (flagged ones first)."""


def _row(row: PatternRow) -> dict[str, Any]:
    return {
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


def artifacts_summary(
    paths: Sequence[Path], settings: ArtifactsSettings | None = None
) -> dict[str, Any]:
    """Flagged patterns and the most prevalent detector patterns of one checkpoint's logs."""
    try:
        report = analyse_artifacts(paths, settings=settings or ArtifactsSettings()).report
    except (ValidationFailed, OSError, ValueError) as exc:
        return {"n_messages": None, "patterns": [], "error": str(exc).splitlines()[0][:300]}
    detector_rows = sorted(
        (r for r in report.patterns if r.origin == "detector" and r.count),
        key=lambda r: (not r.flagged, -(r.prevalence or 0.0), r.name),
    )
    flagged_discovered = [r for r in report.patterns if r.origin == "discovered" and r.flagged]
    return {
        "n_messages": report.n_messages,
        "threshold": report.settings.threshold,
        "patterns": [_row(r) for r in [*detector_rows[:SHOWN_PATTERNS], *flagged_discovered]],
        "flagged": sorted(r.name for r in report.patterns if r.flagged),
    }


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
