"""Paired 0/1 outcomes for a release gate: Tango's score interval, the margin test, true power.

A pair is one sample in a baseline and a candidate run. `new` pairs are 0 then 1 (a new
violation), `resolved` pairs 1 then 0; the difference of the two rates is
(new - resolved) / n. Everything here is stdlib (`statistics.NormalDist`) and numpy.

Why Tango's score interval (Tango 1998, Stat Med 17:891) and not Newcombe's (1998, method
10) for the difference of paired proportions: both keep their coverage near 95% at small n
and rare discordance (Fagerland, Lydersen & Laake 2014, Stat Med 33:2850, recommend the
asymptotic score interval), but Tango's is the inversion of a score *test* of "difference =
delta". The gate's default rule tests exactly that with delta = the margin, so the interval a
report shows and the decision the gate takes are one procedure: with a single comparison,
a one-sided score p-value below alpha / 2 at the margin is the same event as the 95%
interval's lower bound lying above the margin. Newcombe's interval is built from two Wilson
intervals and a correlation correction; it has no test to match and needs special cases
when a margin of the 2x2 table is zero. At delta = 0 Tango's statistic is McNemar's
(new - resolved) / sqrt(new + resolved).

Power is computed for the test the gate actually runs (exact enumeration of the trinomial
outcomes up to `POWER_EXACT_MAX` pairs, a normal approximation above), at the level a row
faces after Holm's correction, with the chance discordance taken from outside the
candidate's own change.
"""

from __future__ import annotations

import math
from collections.abc import Callable
from statistics import NormalDist
from typing import Literal

import numpy as np
from pydantic import BaseModel, ConfigDict

from harness._util._stats import binomial_half_cdf

Rule = Literal["margin", "change"]
"""The gate's decision rules: "margin" tests that the change exceeds the margin; "change"
tests for any change and then asks the estimate to be beyond the margin."""

_NORMAL = NormalDist()
_BISECTIONS = 64
"""Bisection steps for an interval bound: the bracket is below float resolution after 60."""
POWER = 0.80
"""The power the minimum detectable effect is defined at."""
POWER_EXACT_MAX = 2000
"""Up to this many pairs power is summed exactly over the trinomial outcomes (a few ms);
above, the normal approximation, accurate to about a percentage point there."""
_WINDOW_SD = 10.0
"""Outcomes further than this many standard deviations from the mean are left out of the
exact power sum (their probability is below 1e-22)."""
_MDE_STEPS = 30
"""Bisection steps for the minimum detectable effect (precision below 1e-9)."""
SIGN_FLIP_RESAMPLES = 20000
"""Monte Carlo draws of the sign-flip test above 16 pairs: its p-value is never below
1 / (SIGN_FLIP_RESAMPLES + 1)."""
SIGN_FLIP_EXACT_MAX = 16
"""Up to this many differences the sign-flip test enumerates every sign pattern."""


def _z(p: float) -> float:
    return _NORMAL.inv_cdf(p)


def _tango_terms(
    new: object, resolved: object, n: object, delta: object
) -> tuple[np.ndarray, np.ndarray]:
    """Numerator and null variance of Tango's score statistic (vectorised), see `tango_z`."""
    b = np.asarray(new, dtype=float)
    c = np.asarray(resolved, dtype=float)
    size = np.asarray(n, dtype=float)
    d = np.asarray(delta, dtype=float)
    linear = -b - c + (2.0 * size - b + c) * d
    constant = -c * d * (1.0 - d)
    with np.errstate(divide="ignore", invalid="ignore", over="ignore", under="ignore"):
        # sqrt(B^2 - 8nC), scaled so that a tiny delta does not underflow to a zero variance
        scale = np.maximum(np.abs(linear), np.sqrt(np.abs(8.0 * size * constant)))
        scale = np.where(scale > 0, scale, 1.0)
        inside = (linear / scale) ** 2 - (8.0 * size * constant / scale) / scale
        root = scale * np.sqrt(np.maximum(inside, 0.0))
        q = np.where(linear > 0, -2.0 * constant / (linear + root), (root - linear) / (4.0 * size))
    q = np.maximum(np.nan_to_num(q, nan=0.0), 0.0)
    return b - c - size * d, size * (2.0 * q + d * (1.0 - d))


def tango_z(new: object, resolved: object, n: object, delta: object) -> np.ndarray:
    """Tango's score statistic for "the difference of paired rates is `delta`" (vectorised).

    (new - resolved - n delta) / sqrt(n (2 q + delta (1 - delta))), with q the maximum
    likelihood estimate of the resolved-pair probability under the hypothesis (the positive
    root of 2n q^2 + B q + C = 0, B = -new - resolved + (2n - new + resolved) delta,
    C = -resolved delta (1 - delta), taken in the form that does not cancel). Large values
    speak for a difference above `delta`. 0 where numerator and variance are both 0.
    """
    numerator, variance = _tango_terms(new, resolved, n, delta)
    with np.errstate(divide="ignore", invalid="ignore"):
        z = numerator / np.sqrt(np.maximum(variance, 0.0))
    return np.where(numerator == 0, 0.0, z)


def tango_interval(
    new: object, resolved: object, n: object, confidence: float = 0.95
) -> tuple[np.ndarray, np.ndarray]:
    """Tango's score interval for the difference of paired rates, (new - resolved) / n.

    Vectorised over arrays of counts; the bounds are where the score statistic crosses
    +-z, found by bisection (the statistic falls as delta rises). NaN bounds for n = 0.
    Unlike a percentile bootstrap it never collapses to a point: 40 pairs without a
    disagreement give about +-0.09, one new violation of one pair [-0.6, 1].

    Raises:
        ValueError: when `confidence` is not in (0, 1).

    """
    if not 0.0 < confidence < 1.0:
        raise ValueError(f"confidence must be in (0, 1), got {confidence}")
    b = np.asarray(new, dtype=float)
    c = np.asarray(resolved, dtype=float)
    size = np.asarray(n, dtype=float)
    z = _z(1.0 - (1.0 - confidence) / 2.0)
    with np.errstate(divide="ignore", invalid="ignore"):
        estimate = (b - c) / size
    estimate = np.nan_to_num(estimate, nan=0.0)
    bounds = []
    for target, start, end in ((z, -1.0, estimate), (-z, estimate, 1.0)):
        low = np.broadcast_to(np.asarray(start, dtype=float), estimate.shape).copy()
        high = np.broadcast_to(np.asarray(end, dtype=float), estimate.shape).copy()
        for _ in range(_BISECTIONS):
            mid = (low + high) / 2.0
            beyond = tango_z(b, c, size, mid) > target
            low, high = np.where(beyond, mid, low), np.where(beyond, high, mid)
        bounds.append(np.where(size > 0, (low + high) / 2.0, np.nan))
    return bounds[0], bounds[1]


def paired_rate_ci(
    new: int, resolved: int, n_pairs: int, confidence: float = 0.95
) -> tuple[float, float]:
    """Tango's score interval of one comparison as two floats ((nan, nan) without pairs)."""
    low, high = tango_interval(new, resolved, n_pairs, confidence)
    return float(low), float(high)


def mcnemar_greater(new: int, resolved: int) -> float:
    """One-sided exact McNemar p-value for "more new than resolved": P(X >= new), X ~ Bin(d, 1/2).

    Exact (integer sums) up to `MCNEMAR_EXACT_MAX` discordant pairs, as `mcnemar_exact`.
    """
    return binomial_half_cdf(resolved, new + resolved)


def margin_p(new: int, resolved: int, n_pairs: int, margin: float) -> float:
    """One-sided p-value that the rate increase (new - resolved) / n exceeds `margin`.

    The larger of Tango's one-sided score p-value at `margin` and the one-sided exact
    McNemar p-value of any increase: the score test asks the margin question, and the
    exact test keeps a decision from resting on the score test's normal approximation at
    a handful of pairs (four new violations of four pairs give a score p of 0.023 at
    margin 0, but an exact p of 0.0625). 1.0 without pairs or when `margin` >= 1 (no
    increase can exceed it); a margin of -1 or less leaves the exact test alone.
    """
    if n_pairs <= 0 or margin >= 1.0:
        return 1.0
    exact = mcnemar_greater(new, resolved)
    if margin <= -1.0:
        return exact
    z = float(tango_z(new, resolved, n_pairs, margin))
    return max(1.0 - _NORMAL.cdf(z), exact)


# ------------------------------------------------------------------ power


class Power(BaseModel):
    """What a comparison of this many pairs can show, for the test its decision rule runs."""

    model_config = ConfigDict(extra="forbid")

    test: str
    """The test the decision rule runs, in words."""
    level: float
    """Holm's first-step level, alpha / rows: the level a row faces when nothing else in
    the comparison is significant."""
    threshold: float
    """The p-value the row must go below to count (the level, or half of it for the
    one-sided margin test)."""
    noise: float
    """Assumed chance variation without a real change: the share of pairs that disagree
    (violation rates) or the standard deviation of the paired differences (knowledge)."""
    noise_source: str
    """Where `noise` comes from: a documented default or the baseline's own measured
    variability; never the candidate's change."""
    best_p: float
    """The smallest p-value any outcome of this many pairs can give under the rule (every
    pair a new violation, or every knowledge score dropping)."""
    attainable: bool
    """Whether any outcome of this many pairs could be significant (`best_p` < `threshold`,
    and the estimate can pass the margin)."""
    pairs_needed: int | None
    """The fewest pairs at which some outcome could be significant at this level; None when
    no number of pairs suffices (e.g. a margin of 1, or the Monte Carlo floor)."""
    mde: float | None
    """The smallest true change (rate increase, or knowledge-score drop) the rule detects
    with 80% power at this many pairs; None when none is detectable."""
    method: str
    """"exact": power summed over every outcome; "normal": the normal approximation."""


def _log_factorials(n: int) -> np.ndarray:
    return np.concatenate(([0.0], np.cumsum(np.log(np.arange(1, n + 1, dtype=float)))))


def _xlogp(count: np.ndarray, p: float) -> np.ndarray:
    """Count * log(p), 0 where count is 0 (also for p = 0)."""
    if p <= 0.0:
        return np.where(count == 0, 0.0, -np.inf)
    return count * math.log(p)


def _exact_limits(discordant: np.ndarray, level: float, log_fact: np.ndarray) -> np.ndarray:
    """Per discordant total d, the largest resolved count k with P(X <= k) < level, X ~ Bin(d, 1/2).

    -1 when even k = 0 is too likely. A pair outcome (new, resolved) passes the exact test
    (one-sided at `level`) when resolved <= this limit for d = new + resolved.
    """
    limits = np.full(len(discordant), -1, dtype=np.int64)
    for i, d in enumerate(discordant.tolist()):
        k = np.arange(0, d // 2 + 1)
        log_pmf = log_fact[d] - log_fact[k] - log_fact[d - k] - d * math.log(2.0)
        cdf = np.cumsum(np.exp(log_pmf))
        limits[i] = int(np.searchsorted(cdf, level, side="left")) - 1
    return limits


def _window(n: int, p: float) -> np.ndarray:
    sd = math.sqrt(n * p * (1.0 - p))
    low = max(0, math.floor(n * p - _WINDOW_SD * sd) - 1)
    high = min(n, math.ceil(n * p + _WINDOW_SD * sd) + 1)
    return np.arange(low, high + 1)


def rate_power(
    n_pairs: int, p_new: float, p_resolved: float, rule: Rule, level: float, margin: float
) -> float:
    """Probability that a comparison of `n_pairs` pairs is a regression under `rule`.

    `p_new` and `p_resolved` are the true probabilities of a new and of a resolved
    violation per pair; `level` is the two-sided level the row faces (alpha / rows). The
    "change" rule: two-sided exact McNemar p < level and the estimate above `margin`. The
    "margin" rule: `margin_p` < level / 2. Exact up to `POWER_EXACT_MAX` pairs.
    """
    if n_pairs <= 0:
        return 0.0
    if n_pairs > POWER_EXACT_MAX:
        return _rate_power_normal(n_pairs, p_new, p_resolved, rule, level, margin)
    log_fact = _log_factorials(n_pairs)
    b = _window(n_pairs, p_new)[:, None]
    c = _window(n_pairs, p_resolved)[None, :]
    rest = n_pairs - b - c
    feasible = rest >= 0
    rest = np.maximum(rest, 0)
    with np.errstate(divide="ignore", invalid="ignore"):
        log_pmf = (
            log_fact[n_pairs]
            - log_fact[b]
            - log_fact[c]
            - log_fact[rest]
            + _xlogp(b, p_new)
            + _xlogp(c, p_resolved)
            + _xlogp(rest, max(0.0, 1.0 - p_new - p_resolved))
        )
    pmf = np.where(feasible, np.exp(log_pmf), 0.0)
    totals = np.unique((b + c)[feasible])
    limit_of = np.full(2 * n_pairs + 2, -1, dtype=np.int64)
    limit_of[totals] = _exact_limits(totals, level / 2.0, log_fact)
    reject = feasible & (c <= limit_of[b + c]) & (b > c)
    if rule == "change":
        reject &= b - c > n_pairs * margin
    elif margin >= 1.0:
        return 0.0
    elif margin > -1.0:
        reject &= tango_z(b, c, n_pairs, margin) > _z(1.0 - level / 2.0)
    return float(min(1.0, np.sum(pmf[reject])))


def _rate_power_normal(
    n_pairs: int, p_new: float, p_resolved: float, rule: Rule, level: float, margin: float
) -> float:
    """`rate_power` by the normal approximation of (new - resolved) / n (large n)."""
    delta = p_new - p_resolved
    discordant = p_new + p_resolved
    spread = math.sqrt(max(discordant - delta * delta, 1e-300))
    z = _z(1.0 - level / 2.0)
    root_n = math.sqrt(n_pairs)
    exact = _NORMAL.cdf((root_n * delta - z * math.sqrt(discordant)) / spread)
    if rule == "change":
        beyond = _NORMAL.cdf(root_n * (delta - margin) / spread)
    elif margin >= 1.0:
        return 0.0
    elif margin <= -1.0:
        beyond = 1.0
    else:  # Tango's null variance at the margin, per pair, from the true cell probabilities
        _, null_variance = _tango_terms(p_new, p_resolved, 1.0, margin)
        shift = root_n * (delta - margin) - z * math.sqrt(max(float(null_variance), 0.0))
        beyond = _NORMAL.cdf(shift / spread)
    return min(exact, beyond)


def _fewest(attainable: Callable[[int], bool]) -> int | None:
    """The smallest n >= 1 with `attainable(n)` (monotone in n); None when none up to 2^40."""
    high = 1
    while not attainable(high):
        high *= 2
        if high > 2**40:
            return None
    low = high // 2
    while low + 1 < high:
        mid = (low + high) // 2
        low, high = (low, mid) if attainable(mid) else (mid, high)
    return high


def _rate_best_p(n_pairs: int, rule: Rule, margin: float) -> float:
    """The p-value of the most extreme outcome, every pair a new violation, under `rule`."""
    if rule == "change":
        return 2.0 * mcnemar_greater(n_pairs, 0) if n_pairs > 0 else 1.0
    return margin_p(n_pairs, 0, n_pairs, margin)


def _rate_attainable(n_pairs: int, rule: Rule, level: float, margin: float) -> bool:
    threshold = level if rule == "change" else level / 2.0
    estimate_can_pass = rule == "margin" or margin < 1.0
    return n_pairs > 0 and estimate_can_pass and _rate_best_p(n_pairs, rule, margin) < threshold


def rate_plan(
    n_pairs: int, rule: Rule, level: float, margin: float, noise: float, noise_source: str
) -> Power:
    """Power of a violation-rate comparison of `n_pairs` pairs under `rule` at `level`.

    The alternative: a share `noise` of pairs disagree by chance, half each way, and a true
    increase `delta` adds new violations on top (p_new = noise / 2 + delta, p_resolved =
    noise / 2). The minimum detectable effect is the smallest `delta` detected with 80%
    power (above the margin under the "margin" rule, which needs the increase to exceed it).
    """
    threshold = level if rule == "change" else level / 2.0
    attainable = _rate_attainable(n_pairs, rule, level, margin)
    needed = _fewest(lambda n: _rate_attainable(n, rule, level, margin))
    half = noise / 2.0

    def power(delta: float) -> float:
        return rate_power(n_pairs, half + delta, half, rule, level, margin)

    mde: float | None = None
    largest = 1.0 - noise
    low = max(0.0, margin) if rule == "change" else max(0.0, min(margin, largest))
    if attainable and power(largest) >= POWER:
        high = largest
        for _ in range(_MDE_STEPS):
            mid = (low + high) / 2.0
            low, high = (mid, high) if power(mid) < POWER else (low, mid)
        mde = high
    test = (
        "exact McNemar, two-sided, and the estimate beyond the margin"
        if rule == "change"
        else "one-sided Tango score test at the margin with the one-sided exact McNemar test"
    )
    return Power(
        test=test,
        level=level,
        threshold=threshold,
        noise=noise,
        noise_source=noise_source,
        best_p=_rate_best_p(n_pairs, rule, margin),
        attainable=attainable,
        pairs_needed=needed,
        mde=mde,
        method="exact" if n_pairs <= POWER_EXACT_MAX else "normal",
    )


def sign_flip_best_p(n_pairs: int, two_sided: bool) -> float:
    """The smallest p-value the sign-flip test can give with `n_pairs` differences.

    2^-n one-sided (twice that two-sided) when every sign pattern is enumerated; the Monte
    Carlo test above `SIGN_FLIP_EXACT_MAX` pairs never goes below 1 / (resamples + 1).
    """
    if n_pairs <= 0:
        return 1.0
    exact = min(1.0, math.ldexp(2.0 if two_sided else 1.0, -n_pairs))
    if n_pairs <= SIGN_FLIP_EXACT_MAX:
        return exact
    return max(exact, 1.0 / (SIGN_FLIP_RESAMPLES + 1))


def score_plan(
    n_pairs: int, rule: Rule, level: float, margin: float, noise: float, noise_source: str
) -> Power:
    """Power of a knowledge-score comparison (paired sign-flip test) for a drop.

    `margin` is the drop tolerated; `noise` the standard deviation of a paired difference
    without a change. The sign-flip test's permutation distribution has variance sum(d^2),
    so its power is approximated by the normal test's: the "change" rule detects a drop
    `mu` when the two-sided test at `level` and the estimate beyond the margin both do,
    the "margin" rule when the one-sided test at level / 2 of the differences shifted by
    the margin does. Attainability is exact: `sign_flip_best_p` against the threshold.
    """
    two_sided = rule == "change"
    threshold = level if two_sided else level / 2.0

    def can(n: int) -> bool:
        return margin < 1.0 and sign_flip_best_p(n, two_sided) < threshold

    attainable = n_pairs > 0 and can(n_pairs)
    floor = sign_flip_best_p(SIGN_FLIP_EXACT_MAX + 1, two_sided)
    needed = _fewest(can) if floor < threshold and margin < 1.0 else None
    mde: float | None = None
    if attainable:
        spread = noise / math.sqrt(n_pairs)
        test_shift = (_z(1.0 - level / 2.0) + _z(POWER)) * spread
        if two_sided:
            value = max(test_shift, margin + _z(POWER) * spread)
        else:
            value = max(margin, 0.0) + test_shift
        mde = value if value <= 1.0 else None
    test = (
        "paired sign-flip test, two-sided, and the estimate beyond the margin"
        if two_sided
        else "one-sided paired sign-flip test of the differences shifted by the margin"
    )
    return Power(
        test=test,
        level=level,
        threshold=threshold,
        noise=noise,
        noise_source=noise_source,
        best_p=sign_flip_best_p(n_pairs, two_sided),
        attainable=attainable,
        pairs_needed=needed,
        mde=mde,
        method="normal",
    )
