"""Reading report documents for the HTML page: numbers, intervals, checkpoints, traits, labels.

Report documents come from JSON (`Report.as_dict()`) and may be partial or hostile: every
accessor here tolerates missing keys, nulls and values of the wrong type.
"""

from __future__ import annotations

import re
from collections.abc import Mapping, Sequence
from typing import Any

from harness._util import finite

Report = Mapping[str, Any]
"""One `report.json` document."""

LABEL_LIMIT = 48
"""Longest label drawn in a plot; the tables carry the full text."""

_CONTROL = re.compile(r"[\x00-\x1f\x7f]+")


def label(value: object, limit: int = LABEL_LIMIT) -> str:
    """Untrusted text made fit for a plot label: one line, at most `limit` characters."""
    text = _CONTROL.sub(" ", str(value)).strip()
    return text if len(text) <= limit else text[: limit - 1] + "…"


def number(value: object) -> float | None:
    """A finite number, or None (JSON nulls, NaN, text and booleans are not numbers)."""
    if isinstance(value, bool) or not isinstance(value, int | float):
        return None
    return finite(float(value), None)


def arm_group(report: Report, trait: str, key: str) -> Mapping[str, Any]:
    """One arm's numbers of one trait, or an empty mapping."""
    traits = report.get("traits") or {}
    found = (traits.get(trait) or {}).get(key)
    return found if isinstance(found, Mapping) else {}


def interval_of(numbers: Mapping[str, Any], key: str = "ci95") -> tuple[float, float] | None:
    """The interval stored under `key`, when it is a pair of finite numbers."""
    ci = numbers.get(key)
    if not isinstance(ci, Sequence) or len(ci) != 2:
        return None
    low, high = number(ci[0]), number(ci[1])
    return None if low is None or high is None else (low, high)


def checkpoint_names(reports: Sequence[Report]) -> list[str]:
    """Each report's checkpoint name, in order (a placeholder where it has none)."""
    return [str(report.get("checkpoint", f"report {i + 1}")) for i, report in enumerate(reports)]


def trait_names(reports: Sequence[Report]) -> list[str]:
    """Every trait any of the reports measured, sorted."""
    return sorted({str(t) for report in reports for t in (report.get("traits") or {})})


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
                    "kappa": number(kappa.get("value")),
                    "ci95": interval_of(kappa),
                },
            )
    return [entries[key] for key in sorted(entries)]
