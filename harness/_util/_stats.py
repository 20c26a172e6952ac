"""Agreement and uncertainty statistics: kappas, majority vote, bootstrap CIs, survival curves.

Pure functions over plain sequences (stdlib and numpy only), so the summary, the
calibration report and the benchmarks all compute the same numbers.
"""

from __future__ import annotations

import math
import statistics
from collections import Counter
from collections.abc import Callable, Hashable, Sequence
from typing import TypeVar

import numpy as np
import numpy.typing as npt

T = TypeVar("T")
H = TypeVar("H", bound=Hashable)


def _check_same_length(a: Sequence[object], b: Sequence[object], names: str) -> None:
    if len(a) != len(b):
        raise ValueError(f"{names} must have the same length, got {len(a)} and {len(b)}")


def cohen_kappa(a: Sequence[Hashable], b: Sequence[Hashable]) -> float:
    """Cohen's kappa between two raters' categorical labels of the same items.

    Returns nan for empty input. When chance agreement is 1 (both raters give one
    and the same label throughout) kappa is 0/0; that case returns 1.0, since the
    raters agree perfectly.

    Raises:
        ValueError: when `a` and `b` differ in length.

    """
    _check_same_length(a, b, "the two raters' labels")
    n = len(a)
    if n == 0:
        return math.nan
    observed = sum(x == y for x, y in zip(a, b, strict=True)) / n
    counts_a, counts_b = Counter(a), Counter(b)
    expected = sum(counts_a[k] * counts_b[k] for k in counts_a) / (n * n)
    if expected == 1.0:
        return 1.0 if observed == 1.0 else math.nan
    return (observed - expected) / (1.0 - expected)


def fleiss_kappa(ratings: Sequence[Sequence[Hashable | None]]) -> float:
    """Fleiss' kappa for many raters, allowing missing ratings.

    One row per subject, one entry per rater; `None` means that rater gave no
    rating. Subjects with fewer than two ratings are dropped. Rows may then have
    different numbers of ratings, so this is the generalisation to varying raters
    per subject: per-subject agreement P_i = sum_j n_ij (n_ij - 1) / (n_i (n_i - 1)),
    category proportions p_j over all ratings, kappa = (mean P_i - sum p_j^2) /
    (1 - sum p_j^2). Returns nan when no subject is left, and 1.0 when every
    rating is the same single category (chance agreement 1, perfect agreement).
    """
    subjects = [Counter(r for r in row if r is not None) for row in ratings]
    subjects = [s for s in subjects if s.total() >= 2]
    if not subjects:
        return math.nan
    agreement = [
        sum(c * (c - 1) for c in s.values()) / (s.total() * (s.total() - 1)) for s in subjects
    ]
    mean_agreement = sum(agreement) / len(agreement)
    totals: Counter[Hashable] = Counter()
    for s in subjects:
        totals.update(s)
    n_ratings = totals.total()
    expected = sum((c / n_ratings) ** 2 for c in totals.values())
    if expected == 1.0:
        return 1.0
    return (mean_agreement - expected) / (1.0 - expected)


def majority(labels: Sequence[H | None]) -> H | None:
    """The most common non-None label; None when there is none or the top count is tied."""
    counts = Counter(label for label in labels if label is not None)
    top = counts.most_common(2)
    if not top or (len(top) == 2 and top[0][1] == top[1][1]):
        return None
    return top[0][0]


def _check_bootstrap(n_resamples: int, confidence: float) -> None:
    """Refuse a bootstrap with no resamples or a confidence level outside (0, 1)."""
    if n_resamples < 1:
        raise ValueError(f"n_resamples must be at least 1, got {n_resamples}")
    if not 0.0 < confidence < 1.0:
        raise ValueError(f"confidence must be in (0, 1), got {confidence}")


def bootstrap_ci(
    data: Sequence[T],
    statistic: Callable[[Sequence[T]], float],
    *,
    n_resamples: int = 2000,
    confidence: float = 0.95,
    seed: int = 0,
) -> tuple[float, float]:
    """Percentile bootstrap confidence interval of `statistic`, resampling items.

    Deterministic for a given seed. Resamples whose statistic is nan are skipped
    (e.g. a kappa of a resample that happens to be constant); returns (nan, nan)
    for empty data or when every resample is nan.

    Raises:
        ValueError: when `n_resamples` < 1 or `confidence` is not in (0, 1).

    """
    _check_bootstrap(n_resamples, confidence)
    n = len(data)
    if n == 0:
        return math.nan, math.nan
    rng = np.random.default_rng(seed)
    indices = rng.integers(0, n, size=(n_resamples, n))
    values = [statistic([data[i] for i in row]) for row in indices.tolist()]
    return _percentile_interval(values, confidence)


_BOOTSTRAP_CHUNK = 2**20
"""Bootstrap resample indices are drawn in blocks of at most this many (8 MB)."""
_DISTINCT_FAST = 256
"""Up to this many distinct values, resample sums come from per-value counts."""


def bootstrap_mean_ci(
    data: Sequence[float],
    *,
    n_resamples: int = 2000,
    confidence: float = 0.95,
    seed: int = 0,
) -> tuple[float, float]:
    """`bootstrap_ci(data, statistics.fmean, ...)`, bit for bit, in a fraction of the time.

    The same resample indices are drawn (in blocks, so memory stays bounded), and each
    resample's mean is its exactly rounded sum divided by n, as `fmean` computes it: from
    the count of each distinct value in exact rational arithmetic when there are few
    distinct values (0/1 rates, rubric fractions), else with `math.fsum`. Data with NaN
    or infinity goes through `bootstrap_ci` itself.

    Raises:
        ValueError: when `n_resamples` < 1 or `confidence` is not in (0, 1).

    """
    _check_bootstrap(n_resamples, confidence)
    values = np.asarray(data, dtype=float)
    n = len(values)
    if n == 0:
        return math.nan, math.nan
    if not np.isfinite(values).all():
        return bootstrap_ci(
            list(data), statistics.fmean, n_resamples=n_resamples, confidence=confidence, seed=seed
        )
    distinct, codes = np.unique(values, return_inverse=True)
    ratios = [float(v).as_integer_ratio() for v in distinct.tolist()]
    denominator = max(den for _, den in ratios)  # every denominator is a power of two
    numerators = [num * (denominator // den) for num, den in ratios]
    rng = np.random.default_rng(seed)
    rows = max(1, _BOOTSTRAP_CHUNK // n)
    means: list[float] = []
    for start in range(0, n_resamples, rows):
        block = rng.integers(0, n, size=(min(rows, n_resamples - start), n))
        if len(distinct) <= _DISTINCT_FAST:
            offsets = codes[block] + len(distinct) * np.arange(len(block))[:, None]
            counts = np.bincount(offsets.ravel(), minlength=len(block) * len(distinct))
            for row in counts.reshape(len(block), len(distinct)).tolist():
                exact = sum(c * m for c, m in zip(row, numerators, strict=True))
                means.append((exact / denominator) / n)
        else:
            means.extend(math.fsum(row) / n for row in values[block].tolist())
    return _percentile_interval(means, confidence)


def _percentile_interval(values: Sequence[float], confidence: float) -> tuple[float, float]:
    """The central `confidence` interval of bootstrap values, NaN ones skipped."""
    finite = [v for v in values if not math.isnan(v)]
    if not finite:
        return math.nan, math.nan
    tail = (1.0 - confidence) / 2.0 * 100.0
    low, high = np.percentile(finite, [tail, 100.0 - tail])
    return float(low), float(high)


def confusion_matrix(
    truth: Sequence[str], predicted: Sequence[str], classes: Sequence[str] | None = None
) -> dict[str, dict[str, int]]:
    """Counts of (truth, predicted) pairs: rows are truth, columns predicted, every cell present.

    `classes` defaults to the sorted union of both label sets.

    Raises:
        ValueError: on different lengths, or a label that is not one of `classes`.

    """
    _check_same_length(truth, predicted, "truth and predicted")
    names = list(classes) if classes is not None else sorted(set(truth) | set(predicted))
    unknown = sorted((set(truth) | set(predicted)) - set(names))
    if unknown:
        raise ValueError(f"labels not in classes: {', '.join(unknown)}")
    matrix = {row: dict.fromkeys(names, 0) for row in names}
    for t, p in zip(truth, predicted, strict=True):
        matrix[t][p] += 1
    return matrix


def accuracy(truth: Sequence[Hashable], predicted: Sequence[Hashable]) -> float:
    """Share of items where the prediction equals the truth; nan when empty.

    Raises:
        ValueError: when `truth` and `predicted` differ in length.

    """
    _check_same_length(truth, predicted, "truth and predicted")
    if not truth:
        return math.nan
    return sum(t == p for t, p in zip(truth, predicted, strict=True)) / len(truth)


def kaplan_meier(observations: Sequence[tuple[int, bool]], max_time: int) -> list[float]:
    """Product-limit estimate of P(no event through turn k) for k = 1..max_time.

    Each observation is `(time, event)` for one subject: with `event` True the
    event (a violation) happened at assistant turn `time` (from 1); with `event`
    False the subject was seen event-free through `time` and then censored. The
    subjects at risk at k are those with time >= k. When nobody is at risk at k
    the previous value is carried forward if someone was at risk at k - 1, else
    the value is nan (nothing is known there). Empty input gives all nan.

    Raises:
        ValueError: on a negative `max_time`, a negative time, or an event at time < 1.

    """
    if max_time < 0:
        raise ValueError(f"max_time must be >= 0, got {max_time}")
    for time, event in observations:
        if time < 0 or (event and time < 1):
            raise ValueError(f"invalid observation ({time}, {event}): event times start at 1")
    survival: list[float] = []
    current = 1.0
    had_risk = False
    for k in range(1, max_time + 1):
        at_risk = sum(time >= k for time, _ in observations)
        if at_risk == 0:
            survival.append(current if had_risk else math.nan)
            had_risk = False
            continue
        events = sum(time == k and event for time, event in observations)
        current *= 1.0 - events / at_risk
        survival.append(current)
        had_risk = True
    return survival


def resampled_means(
    values: Sequence[float], n_resamples: int, rng: np.random.Generator
) -> npt.NDArray[np.float64]:
    """Means of `n_resamples` bootstrap resamples (with replacement) of `values`.

    Drawn as multinomial counts over the distinct values, which is the same distribution
    as resampling item by item, in time that grows with the distinct values (two for 0/1
    violations), not with the sample: 100,000 violations take microseconds, not a minute.
    """
    distinct, counts = np.unique(np.asarray(values, dtype=np.float64), return_counts=True)
    drawn = rng.multinomial(len(values), counts / counts.sum(), size=n_resamples)
    return np.asarray(drawn @ distinct / len(values), dtype=np.float64)


def bootstrap_ci_two_means(
    a: Sequence[float],
    b: Sequence[float],
    combine: Callable[[float, float], float],
    *,
    n_resamples: int = 2000,
    confidence: float = 0.95,
    seed: int = 0,
) -> tuple[float, float]:
    """Percentile bootstrap interval of `combine(mean(a), mean(b))` for independent samples.

    Each sample is resampled on its own (the samples are not paired). (nan, nan) when
    either is empty.
    """
    if not a or not b:
        return math.nan, math.nan
    rng = np.random.default_rng(seed)
    left = resampled_means(a, n_resamples, rng)
    right = resampled_means(b, n_resamples, rng)
    values = [combine(float(x), float(y)) for x, y in zip(left, right, strict=True)]
    return _percentile_interval(values, confidence)


MCNEMAR_EXACT_MAX = 1000
"""Up to this many discordant pairs McNemar's p-value is summed in exact integers (so
p-values already published do not move, and the quotient is never below 2^-1000, a normal
float); above it the log-space tail agrees with the exact sum to 1e-13 relative for any
p-value above 1e-12 (and to 1e-12 down to 1e-300)."""

_STIRLING_ERROR = (
    0.0,
    0.08106146679532726,
    0.0413406959554093,
    0.02767792568499834,
    0.020790672103765093,
    0.016644691189821193,
    0.013876128823070748,
    0.01189670994589177,
    0.010411265261972096,
    0.009255462182712733,
    0.00833056343336287,
    0.007573675487951841,
    0.00694284010720953,
    0.006408994188004207,
    0.0059513701127588475,
    0.005554733551962801,
)
"""log(n!) - ((n + 1/2) log n - n + log sqrt(2 pi)) for n = 0..15 (to 50 digits, rounded)."""


def _stirling_error(n: int) -> float:
    """The error of Stirling's formula for log(n!), accurate to a few ulps (Loader 2000)."""
    if n < len(_STIRLING_ERROR):
        return _STIRLING_ERROR[n]
    nn = float(n) * n
    s0, s1, s2, s3, s4 = 1 / 12, 1 / 360, 1 / 1260, 1 / 1680, 1 / 1188
    if n > 500:
        return (s0 - s1 / nn) / n
    if n > 80:
        return (s0 - (s1 - s2 / nn) / nn) / n
    if n > 35:
        return (s0 - (s1 - (s2 - s3 / nn) / nn) / nn) / n
    return (s0 - (s1 - (s2 - (s3 - s4 / nn) / nn) / nn) / nn) / n


def _deviance(x: float, mean: float) -> float:
    """The deviance x log(x / mean) + mean - x, without cancellation near x = mean (bd0)."""
    if abs(x - mean) < 0.1 * (x + mean):
        v = (x - mean) / (x + mean)
        total = (x - mean) * v
        term = 2.0 * x * v
        v *= v
        j = 1
        while True:
            term *= v
            updated = total + term / (2 * j + 1)
            if updated == total:
                return updated
            total = updated
            j += 1
    return x * math.log(x / mean) + mean - x


def _binomial_half_pmf(k: int, n: int) -> float:
    """P(X = k) for X ~ Binomial(n, 1/2), by Loader's saddle-point form (relative error ~1e-15)."""
    if k in (0, n):
        return math.ldexp(1.0, -n)
    log_core = (
        _stirling_error(n)
        - _stirling_error(k)
        - _stirling_error(n - k)
        - _deviance(k, n / 2)
        - _deviance(n - k, n / 2)
    )
    log_factor = math.log(2 * math.pi) + math.log(k) + math.log1p(-k / n)
    return math.exp(log_core - 0.5 * log_factor)


def _binomial_half_tail(k: int, n: int) -> float:
    """P(X <= k) for X ~ Binomial(n, 1/2), k <= n / 2: the top term, then the ratios below it.

    Terms fall at least geometrically below the mean, so the sum stops once a term no
    longer changes it: O(sqrt(n)) terms at worst, each one multiply and one divide.
    """
    term = _binomial_half_pmf(k, n)
    total = term
    i = k
    while i > 0 and term > total * 1e-17:
        term *= i / (n - i + 1)
        total += term
        i -= 1
    return total


def mcnemar_exact(new_events: int, resolved_events: int) -> float:
    """Two-sided exact McNemar p-value from the discordant pairs of a paired 0/1 outcome.

    `new_events`: pairs 0 in the baseline and 1 in the candidate; `resolved_events`: 1 then 0.
    Under no change each discordant pair goes either way with probability 1/2, so the
    p-value is the two-sided binomial tail; 1.0 when there are no discordant pairs. Up to
    `MCNEMAR_EXACT_MAX` discordant pairs the tail is an exact integer sum; above, it is
    summed in floating point from a log-space top term (about 1 ms at 10^6 pairs).

    Raises:
        ValueError: on a negative or non-integer count.

    """
    for count in (new_events, resolved_events):
        if isinstance(count, bool) or not isinstance(count, int) or count < 0:
            raise ValueError(f"McNemar counts must be non-negative integers, got {count!r}")
    n = new_events + resolved_events
    if n == 0:
        return 1.0
    return min(1.0, 2.0 * _half_lower_tail(min(new_events, resolved_events), n))


def _half_lower_tail(k: int, n: int) -> float:
    """P(X <= k), X ~ Binomial(n, 1/2), for 0 <= k <= n / 2: exact up to `MCNEMAR_EXACT_MAX`."""
    if n > MCNEMAR_EXACT_MAX:
        return _binomial_half_tail(k, n)
    return float(_binomial_tail_count(k, n) / 2**n)


def _binomial_tail_count(k: int, n: int) -> int:
    """sum(comb(n, i) for i in 0..k), exactly, each coefficient from the one before."""
    coefficient = total = 1
    for i in range(k):
        coefficient = coefficient * (n - i) // (i + 1)
        total += coefficient
    return total


def binomial_half_cdf(k: int, n: int) -> float:
    """P(X <= k) for X ~ Binomial(n, 1/2), any integer k (0 below 0, 1 from n on).

    The tail below the middle is summed directly (exactly up to `MCNEMAR_EXACT_MAX`); above
    the middle it is one minus the mirrored tail.
    """
    if k < 0:
        return 0.0
    if k >= n:
        return 1.0
    if 2 * k <= n:
        return _half_lower_tail(k, n)
    return 1.0 - _half_lower_tail(n - k - 1, n)


def holm(p_values: Sequence[float]) -> list[float]:
    """Holm-Bonferroni adjusted p-values, in the order given (family-wise error control).

    A NaN p-value (a test that could not be computed) stays NaN and still counts in the
    family size, so it never makes another test look more significant, and it leaves the
    others' adjusted values as they would be were it the largest.

    Raises:
        ValueError: on a p-value outside [0, 1] (other than NaN).

    """
    for p in p_values:
        if not math.isnan(p) and not 0.0 <= p <= 1.0:
            raise ValueError(f"p-values must be in [0, 1], got {p}")
    m = len(p_values)
    known = [i for i in range(m) if not math.isnan(p_values[i])]
    order = sorted(known, key=lambda i: p_values[i])
    adjusted = [math.nan] * m
    running = 0.0
    for rank, index in enumerate(order):
        running = max(running, min(1.0, (m - rank) * p_values[index]))
        adjusted[index] = running
    return adjusted


_SIGN_FLIP_CHUNK = 2**24
"""Monte Carlo sign patterns are drawn in blocks of at most this many signs (128 MB)."""
_ALTERNATIVES = ("two-sided", "less", "greater")


def sign_flip_p(
    differences: Sequence[float],
    n_resamples: int = 20000,
    seed: int = 0,
    alternative: str = "two-sided",
) -> float:
    """Paired permutation (sign-flip) p-value for a mean difference of zero.

    `alternative`: "two-sided" (|sum| at least as large), "less" (a sum at most the observed
    one: evidence of a negative mean) or "greater". Exact over all 2^n sign patterns for
    n <= 16, else Monte Carlo with `n_resamples` draws (counting the observed pattern, so the
    p-value is never 0). With few distinct |differences| (knowledge scores are fractions of
    criteria) the Monte Carlo draws, per distinct value, how many of its pairs keep their
    sign (a binomial count): the same distribution as drawing every sign, in time that does
    not grow with n. Otherwise the signs are drawn in blocks, so memory stays bounded.

    Raises:
        ValueError: on a NaN or infinite difference (there is no p-value to report), or an
            unknown `alternative`.

    """
    if alternative not in _ALTERNATIVES:
        choices = ", ".join(_ALTERNATIVES)
        raise ValueError(f"alternative must be one of {choices}, got {alternative!r}")
    if not all(math.isfinite(d) for d in differences):
        raise ValueError("sign-flip test needs finite differences, got NaN or infinity")
    n = len(differences)
    if n == 0:
        return 1.0
    observed = math.fsum(differences)
    tolerance = 1e-12 * (1.0 + math.fsum(abs(d) for d in differences))

    def extreme(totals: np.ndarray) -> int:
        if alternative == "less":
            return int(np.sum(totals <= observed + tolerance))
        if alternative == "greater":
            return int(np.sum(totals >= observed - tolerance))
        return int(np.sum(np.abs(totals) >= abs(observed) - tolerance))

    if n <= 16:
        patterns = (np.arange(2**n)[:, None] >> np.arange(n)) & 1
        signs = np.where(patterns == 1, 1.0, -1.0)
        return float(extreme(signs @ np.asarray(differences, dtype=float)) / 2**n)
    rng = np.random.default_rng(seed)
    magnitudes, counts = np.unique(np.abs(np.asarray(differences, dtype=float)), return_counts=True)
    count = 0
    if len(magnitudes) <= _DISTINCT_FAST:
        rows = max(1, _SIGN_FLIP_CHUNK // len(magnitudes))
        for start in range(0, n_resamples, rows):
            size = (min(rows, n_resamples - start), len(magnitudes))
            kept = rng.binomial(counts, 0.5, size=size)
            count += extreme((2 * kept - counts) @ magnitudes)
        return float((count + 1) / (n_resamples + 1))
    values = np.asarray(differences, dtype=float)
    rows = n_resamples if n_resamples * n <= _SIGN_FLIP_CHUNK else max(1, _SIGN_FLIP_CHUNK // n)
    for start in range(0, n_resamples, rows):
        signs = rng.choice([-1.0, 1.0], size=(min(rows, n_resamples - start), n))
        count += extreme(signs @ values)
    return float((count + 1) / (n_resamples + 1))
