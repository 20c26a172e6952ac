"""Prevalence against a baseline: ratio with a 95% CI, Fisher's exact test, Holm, flags.

Pure functions over counts (stdlib and numpy only; no scipy).
"""

from __future__ import annotations

import math
from collections.abc import Sequence
from dataclasses import dataclass
from functools import lru_cache

import numpy as np
import numpy.typing as npt

from harness._util import holm

Z95 = 1.959963984540054
CONTINUITY = 0.5
"""Added to every cell of the 2x2 table when either group has no hits (Haldane-Anscombe)."""
DEFAULT_THRESHOLD = 0.2
DEFAULT_ALPHA = 0.05


@lru_cache(maxsize=8)
def _log_factorials(n: int) -> npt.NDArray[np.float64]:
    """log(k!) for k = 0..n."""
    table = np.zeros(n + 1)
    if n:
        table[1:] = np.cumsum(np.log(np.arange(1, n + 1, dtype=np.float64)))
    return table


def fisher_exact(a: int, b: int, c: int, d: int) -> float:
    """Two-sided Fisher exact p-value of the 2x2 table [[a, b], [c, d]].

    Sums the probabilities of every table with the same margins that is no more likely
    than the observed one (the usual two-sided definition, as in R and scipy), with a
    relative tolerance of 1e-7 for ties.

    Raises:
        ValueError: on a negative cell.

    """
    if min(a, b, c, d) < 0:
        raise ValueError("cells of a 2x2 table cannot be negative")
    row1, row2, col1 = a + b, c + d, a + c
    n = row1 + row2
    if n == 0:
        return 1.0
    lf = _log_factorials(n)
    low, high = max(0, col1 - row2), min(row1, col1)
    k = np.arange(low, high + 1)
    fixed = lf[row1] + lf[row2] + lf[col1] + lf[n - col1] - lf[n]
    log_p = fixed - lf[k] - lf[row1 - k] - lf[col1 - k] - lf[row2 - col1 + k]
    observed = log_p[a - low]
    p = float(np.exp(log_p[log_p <= observed + 1e-7]).sum())
    return min(1.0, p)


@dataclass(frozen=True)
class RatioEstimate:
    """Prevalence ratio (group over baseline) with a 95% CI by the log method."""

    ratio: float
    low: float
    high: float
    corrected: bool
    """True when a zero count made the continuity correction necessary."""


def prevalence_ratio(count: int, n: int, base_count: int, base_n: int) -> RatioEstimate:
    """Ratio of prevalences count/n over base_count/base_n with a 95% CI (log method).

    With a zero count in either group, 0.5 is added to every cell of the 2x2 table
    (Haldane-Anscombe), so the ratio and its interval stay finite; `corrected` says so.

    Raises:
        ValueError: when either group is empty.

    """
    if n <= 0 or base_n <= 0:
        raise ValueError("both groups need at least one message")
    corrected = count == 0 or base_count == 0
    a, c = float(count), float(base_count)
    n1, n0 = float(n), float(base_n)
    if corrected:
        a, c, n1, n0 = a + CONTINUITY, c + CONTINUITY, n1 + 2 * CONTINUITY, n0 + 2 * CONTINUITY
    ratio = (a / n1) / (c / n0)
    se = math.sqrt(max(0.0, 1 / a - 1 / n1 + 1 / c - 1 / n0))
    log_ratio = math.log(ratio)
    return RatioEstimate(
        ratio, math.exp(log_ratio - Z95 * se), math.exp(log_ratio + Z95 * se), corrected
    )


@dataclass(frozen=True)
class PatternCounts:
    """Counts of one pattern in the scanned messages and, optionally, in a baseline."""

    count: int
    n: int
    base_count: int | None = None
    base_n: int | None = None
    flag_by_prevalence: bool = True


@dataclass(frozen=True)
class PatternTest:
    """Statistics and the flag decision for one pattern."""

    prevalence: float
    baseline_prevalence: float | None
    ratio: RatioEstimate | None
    p_value: float | None
    p_holm: float | None
    flagged: bool
    reasons: tuple[str, ...]


def flag_patterns(
    patterns: Sequence[PatternCounts],
    threshold: float = DEFAULT_THRESHOLD,
    alpha: float = DEFAULT_ALPHA,
    against: str = "baseline",
) -> list[PatternTest]:
    """Test every pattern and decide its flag.

    A pattern is flagged when its prevalence is at least `threshold` (unless it opts out,
    like length buckets), or when it is significantly over-represented against the
    baseline: Holm-corrected Fisher p < `alpha` across every pattern that has a baseline,
    and a prevalence ratio above 1. `against` names the baseline in the flag's reason
    (the pressure comparison's baseline is the first replies).
    """
    ratios: list[RatioEstimate | None] = []
    p_values: list[float | None] = []
    for item in patterns:
        if item.base_count is None or not item.base_n or not item.n:
            ratios.append(None)
            p_values.append(None)
            continue
        ratios.append(prevalence_ratio(item.count, item.n, item.base_count, item.base_n))
        p_values.append(
            fisher_exact(
                item.count, item.n - item.count, item.base_count, item.base_n - item.base_count
            )
        )
    tested = [i for i, p in enumerate(p_values) if p is not None]
    adjusted = dict(zip(tested, holm([p_values[i] or 0.0 for i in tested]), strict=True))
    results: list[PatternTest] = []
    for index, item in enumerate(patterns):
        prevalence = item.count / item.n if item.n else math.nan
        base = (
            item.base_count / item.base_n if item.base_n and item.base_count is not None else None
        )
        reasons: list[str] = []
        if item.flag_by_prevalence and item.n and prevalence >= threshold:
            reasons.append(f"prevalence >= {threshold:g}")
        p_holm = adjusted.get(index)
        ratio = ratios[index]
        if p_holm is not None and ratio is not None and p_holm < alpha and ratio.ratio > 1:
            reasons.append(f"over-represented vs {against} (Holm p < {alpha:g})")
        results.append(
            PatternTest(
                prevalence=prevalence,
                baseline_prevalence=base,
                ratio=ratio,
                p_value=p_values[index],
                p_holm=p_holm,
                flagged=bool(reasons),
                reasons=tuple(reasons),
            )
        )
    return results
