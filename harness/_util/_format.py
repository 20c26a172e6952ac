"""Formatting of numbers for reports, tables and JSON documents (one definition of each)."""

from __future__ import annotations

import math
from collections.abc import Mapping

DASH = "—"
"""Shown where there is no number."""


def finite(x: float | None, digits: int | None = 4) -> float | None:
    """`x` rounded to `digits` (kept as is when None), or None when missing, NaN or infinite.

    JSON documents carry None (null) rather than NaN, which strict JSON readers reject.
    """
    if x is None or not math.isfinite(x):
        return None
    return x if digits is None else round(x, digits)


def pct(x: float | None) -> str:
    """A rate as a percentage with one decimal, or a dash when missing or NaN."""
    return DASH if x is None or math.isnan(x) else f"{100 * x:.1f}%"


def signed_pct(x: float | None) -> str:
    """A difference of rates in percentage points, signed, or a dash."""
    return DASH if x is None or math.isnan(x) else f"{100 * x:+.1f} pp"


def counts_text(counts: Mapping[str, int]) -> str:
    """Counts by name, most first ("both_answers_named 3, no_answer_stated 1"), or a dash."""
    ordered = sorted(counts.items(), key=lambda kv: (-kv[1], kv[0]))
    return ", ".join(f"{name} {n}" for name, n in ordered if n) or DASH
