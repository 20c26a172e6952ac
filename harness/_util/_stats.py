"""Agreement and uncertainty statistics: kappas, majority vote, bootstrap CIs, survival curves.

Pure functions over plain sequences (stdlib and numpy only), so the summary, the
calibration report and the benchmarks all compute the same numbers.
"""

from __future__ import annotations

import math
from collections import Counter
from collections.abc import Callable, Hashable, Sequence
from typing import TypeVar

import numpy as np

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
    if n_resamples < 1:
        raise ValueError(f"n_resamples must be at least 1, got {n_resamples}")
    if not 0.0 < confidence < 1.0:
        raise ValueError(f"confidence must be in (0, 1), got {confidence}")
    n = len(data)
    if n == 0:
        return math.nan, math.nan
    rng = np.random.default_rng(seed)
    indices = rng.integers(0, n, size=(n_resamples, n))
    values = [statistic([data[i] for i in row]) for row in indices.tolist()]
    return _percentile_interval(values, confidence)


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


def bootstrap_ci_two_samples(
    a: Sequence[float],
    b: Sequence[float],
    statistic: Callable[[Sequence[float], Sequence[float]], float],
    *,
    n_resamples: int = 2000,
    confidence: float = 0.95,
    seed: int = 0,
) -> tuple[float, float]:
    """Percentile bootstrap interval of `statistic(a, b)` for two independent samples.

    Each sample is resampled on its own (the samples are not paired). (nan, nan) when
    either is empty.
    """
    if not a or not b:
        return math.nan, math.nan
    rng = np.random.default_rng(seed)
    values: list[float] = []
    for _ in range(n_resamples):
        left = [a[i] for i in rng.integers(0, len(a), size=len(a)).tolist()]
        right = [b[i] for i in rng.integers(0, len(b), size=len(b)).tolist()]
        values.append(statistic(left, right))
    return _percentile_interval(values, confidence)


def mcnemar_exact(new_events: int, resolved_events: int) -> float:
    """Two-sided exact McNemar p-value from the discordant pairs of a paired 0/1 outcome.

    `new_events`: pairs 0 in the baseline and 1 in the candidate; `resolved_events`: 1 then 0.
    Under no change each discordant pair goes either way with probability 1/2, so the
    p-value is the two-sided binomial tail; 1.0 when there are no discordant pairs.
    """
    n = new_events + resolved_events
    if n == 0:
        return 1.0
    k = min(new_events, resolved_events)
    tail = float(sum(math.comb(n, i) for i in range(k + 1)) / 2**n)
    return min(1.0, 2.0 * tail)


def holm(p_values: Sequence[float]) -> list[float]:
    """Holm-Bonferroni adjusted p-values, in the order given (family-wise error control)."""
    order = sorted(range(len(p_values)), key=lambda i: p_values[i])
    adjusted = [1.0] * len(p_values)
    running = 0.0
    for rank, index in enumerate(order):
        running = max(running, min(1.0, (len(p_values) - rank) * p_values[index]))
        adjusted[index] = running
    return adjusted


def sign_flip_p(differences: Sequence[float], n_resamples: int = 20000, seed: int = 0) -> float:
    """Two-sided paired permutation (sign-flip) p-value for a mean difference of zero.

    Exact over all 2^n sign patterns for n <= 16, else Monte Carlo with `n_resamples`
    draws (counting the observed pattern, so the p-value is never 0).
    """
    n = len(differences)
    if n == 0:
        return 1.0
    observed = abs(sum(differences))
    tolerance = 1e-12
    if n <= 16:
        extreme = 0
        for pattern in range(2**n):
            total = sum(d if pattern >> i & 1 else -d for i, d in enumerate(differences))
            extreme += abs(total) >= observed - tolerance
        return float(extreme / 2**n)
    rng = np.random.default_rng(seed)
    signs = rng.choice([-1.0, 1.0], size=(n_resamples, n))
    totals = np.abs(signs @ np.asarray(differences, dtype=float))
    extreme = int(np.sum(totals >= observed - tolerance))
    return float((extreme + 1) / (n_resamples + 1))


_Z_975 = 1.959963984540054
_Z_80 = 0.8416212335729143


def mde_paired_proportions(n_pairs: int, discordant_share: float) -> float:
    """Smallest rate difference a paired test detects at alpha 0.05 with 80% power.

    Connor's (1987) sample size for McNemar's test, solved for the difference:
    n = (z_a sqrt(p_d) + z_b sqrt(p_d - d^2))^2 / d^2, with p_d the share of
    discordant pairs. NaN without pairs, or when no difference up to p_d (every
    discordant pair going one way) is detectable with this many pairs.
    """
    if n_pairs <= 0:
        return math.nan
    p_d = min(1.0, max(discordant_share, 1e-9))

    def needed(d: float) -> float:
        return (_Z_975 * math.sqrt(p_d) + _Z_80 * math.sqrt(max(p_d - d * d, 0.0))) ** 2 / (d * d)

    if needed(p_d) > n_pairs:
        return math.nan
    low, high = 1e-9, p_d
    for _ in range(60):
        mid = (low + high) / 2
        low, high = (mid, high) if needed(mid) > n_pairs else (low, mid)
    return high


def mde_paired_mean(n_pairs: int, sd_difference: float) -> float:
    """Smallest mean difference a paired test detects at alpha 0.05 with 80% power (normal)."""
    if n_pairs <= 0:
        return math.nan
    return (_Z_975 + _Z_80) * sd_difference / math.sqrt(n_pairs)
