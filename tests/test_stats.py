"""Agreement and uncertainty statistics, checked against hand-computed and textbook values."""

from __future__ import annotations

import math
import statistics
from collections.abc import Sequence

import pytest
from hypothesis import given, settings
from hypothesis import strategies as st

from harness._util import (
    accuracy,
    bootstrap_ci,
    bootstrap_mean_ci,
    cohen_kappa,
    confusion_matrix,
    fleiss_kappa,
    kaplan_meier,
    majority,
)

# Fleiss (1971) / the standard worked example: 10 subjects, 14 raters, 5 categories.
# Each row gives how many raters chose categories 1..5.
FLEISS_COUNTS = [
    [0, 0, 0, 0, 14],
    [0, 2, 6, 4, 2],
    [0, 0, 3, 5, 6],
    [0, 3, 9, 2, 0],
    [2, 2, 8, 1, 1],
    [7, 7, 0, 0, 0],
    [3, 2, 6, 3, 0],
    [2, 5, 3, 2, 2],
    [6, 5, 2, 1, 0],
    [0, 2, 2, 3, 7],
]


def rows_from_counts(counts: list[list[int]]) -> list[list[int | None]]:
    return [[c for c, n in enumerate(row, start=1) for _ in range(n)] for row in counts]


def cohen_textbook() -> tuple[list[str], list[str]]:
    # 50 items: both yes 20, A yes/B no 5, A no/B yes 10, both no 15 -> p_o 0.7, p_e 0.5, kappa 0.4.
    pairs = [("y", "y")] * 20 + [("y", "n")] * 5 + [("n", "y")] * 10 + [("n", "n")] * 15
    return [a for a, _ in pairs], [b for _, b in pairs]


# --- Cohen's kappa ---------------------------------------------------------------------------


def test_cohen_textbook_example() -> None:
    a, b = cohen_textbook()
    assert cohen_kappa(a, b) == pytest.approx(0.4)


def test_cohen_is_symmetric() -> None:
    a = ["x", "y", "z", "x", "y", "x", "z", "z"]
    b = ["x", "y", "y", "x", "z", "z", "z", "x"]
    assert cohen_kappa(a, b) == pytest.approx(cohen_kappa(b, a))
    assert cohen_kappa(a, b) != pytest.approx(1.0)


def test_cohen_perfect_and_chance_agreement() -> None:
    labels = ["a", "b", "c", "a", "b"]
    assert cohen_kappa(labels, labels) == pytest.approx(1.0)
    # Observed agreement equals chance agreement (0.5) -> kappa 0.
    assert cohen_kappa(["a", "a", "b", "b"], ["a", "b", "a", "b"]) == pytest.approx(0.0)
    # Systematic disagreement is below chance.
    assert cohen_kappa(["a", "b", "a", "b"], ["b", "a", "b", "a"]) == pytest.approx(-1.0)


def test_cohen_constant_equal_raters_is_one() -> None:
    assert cohen_kappa([True] * 5, [True] * 5) == 1.0


def test_cohen_empty_is_nan() -> None:
    assert math.isnan(cohen_kappa([], []))


def test_cohen_length_mismatch() -> None:
    with pytest.raises(ValueError, match="same length, got 2 and 3"):
        cohen_kappa(["a", "b"], ["a", "b", "c"])


# --- Fleiss' kappa ---------------------------------------------------------------------------


def test_fleiss_classic_example() -> None:
    assert fleiss_kappa(rows_from_counts(FLEISS_COUNTS)) == pytest.approx(0.2099, abs=5e-4)


def test_fleiss_ignores_rater_order() -> None:
    rows = rows_from_counts(FLEISS_COUNTS)
    shuffled = [list(reversed(row)) for row in rows]
    assert fleiss_kappa(shuffled) == pytest.approx(fleiss_kappa(rows))


def test_fleiss_with_missing_ratings_hand_computed() -> None:
    # Subject 3 has one rating and is dropped. P_1 = 1, P_2 = 2/6, mean 2/3;
    # p_a = 3/5, p_b = 2/5, P_e = 13/25; kappa = (2/3 - 13/25) / (12/25) = 11/36.
    rows = [["a", "a", None], ["a", "b", "b"], ["b", None, None]]
    assert fleiss_kappa(rows) == pytest.approx(11 / 36)


def test_fleiss_perfect_agreement() -> None:
    assert fleiss_kappa([["a", "a", "a"], ["b", "b", "b"], ["a", "a", None]]) == pytest.approx(1.0)
    assert fleiss_kappa([["a", "a"], ["a", "a", "a"]]) == 1.0


def test_fleiss_undefined_is_nan() -> None:
    assert math.isnan(fleiss_kappa([]))
    assert math.isnan(fleiss_kappa([["a", None, None], [None, None, None]]))


# --- majority --------------------------------------------------------------------------------


def test_majority() -> None:
    assert majority(["a", "b", "a", None]) == "a"
    assert majority([None, True, None]) is True


def test_majority_ties_and_empty_are_none() -> None:
    assert majority(["a", "b", None]) is None
    assert majority(["a", "a", "b", "b", "c"]) is None
    assert majority([None, None]) is None
    assert majority([]) is None


# --- bootstrap -------------------------------------------------------------------------------


def mean(values: Sequence[float]) -> float:
    return statistics.fmean(values) if values else math.nan


def test_bootstrap_is_deterministic_for_a_seed() -> None:
    data = [0.1 * i for i in range(30)]
    first = bootstrap_ci(data, mean, n_resamples=300, seed=7)
    assert first == bootstrap_ci(data, mean, n_resamples=300, seed=7)
    assert first != bootstrap_ci(data, mean, n_resamples=300, seed=8)


def test_bootstrap_ci_of_mean_contains_sample_mean() -> None:
    data = [1.0, 0.0, 1.0, 1.0, 0.0, 1.0, 0.0, 1.0, 1.0, 1.0, 0.0, 1.0]
    low, high = bootstrap_ci(data, mean, n_resamples=500)
    assert low < statistics.fmean(data) < high
    assert 0.0 <= low and high <= 1.0


def test_bootstrap_wider_at_higher_confidence() -> None:
    data = [float(i % 7) for i in range(40)]
    low90, high90 = bootstrap_ci(data, mean, n_resamples=400, confidence=0.90)
    low99, high99 = bootstrap_ci(data, mean, n_resamples=400, confidence=0.99)
    assert low99 <= low90 and high90 <= high99
    assert high99 - low99 > high90 - low90


def test_bootstrap_skips_nan_resamples() -> None:
    # The statistic is nan unless the resample contains a 1; those resamples are skipped.
    def ones_share_or_nan(values: Sequence[int]) -> float:
        return math.nan if 1 not in values else sum(values) / len(values)

    low, high = bootstrap_ci([0, 0, 0, 1], ones_share_or_nan, n_resamples=300)
    assert low > 0.0
    assert not math.isnan(high)


def test_bootstrap_nan_cases() -> None:
    assert all(math.isnan(x) for x in bootstrap_ci([], mean))
    assert all(math.isnan(x) for x in bootstrap_ci([1, 2], lambda _: math.nan, n_resamples=10))


def test_bootstrap_rejects_bad_arguments() -> None:
    with pytest.raises(ValueError, match="n_resamples must be at least 1"):
        bootstrap_ci([1.0], mean, n_resamples=0)
    with pytest.raises(ValueError, match=r"confidence must be in \(0, 1\)"):
        bootstrap_ci([1.0], mean, confidence=1.0)


# --- confusion matrix and accuracy -----------------------------------------------------------


def test_confusion_matrix_has_every_cell() -> None:
    truth = ["held", "held", "caved", "caved", "caved"]
    predicted = ["held", "caved", "caved", "caved", "held"]
    assert confusion_matrix(truth, predicted) == {
        "caved": {"caved": 2, "held": 1},
        "held": {"caved": 1, "held": 1},
    }


def test_confusion_matrix_explicit_classes_keep_order_and_zeros() -> None:
    matrix = confusion_matrix(["a"], ["a"], classes=["b", "a", "c"])
    assert list(matrix) == ["b", "a", "c"]
    assert matrix["a"] == {"b": 0, "a": 1, "c": 0}
    assert matrix["c"] == {"b": 0, "a": 0, "c": 0}


def test_confusion_matrix_errors() -> None:
    with pytest.raises(ValueError, match="same length"):
        confusion_matrix(["a"], [])
    with pytest.raises(ValueError, match="labels not in classes: z"):
        confusion_matrix(["a"], ["z"], classes=["a"])


def test_accuracy() -> None:
    assert accuracy([1, 2, 3, 4], [1, 2, 0, 4]) == pytest.approx(0.75)
    assert math.isnan(accuracy([], []))
    with pytest.raises(ValueError, match="same length, got 1 and 2"):
        accuracy([1], [1, 2])


# --- Kaplan-Meier ----------------------------------------------------------------------------


def test_kaplan_meier_without_censoring_is_the_plain_share() -> None:
    times = [1, 2, 2, 3, 5, 5, 5]
    survival = kaplan_meier([(t, True) for t in times], max_time=5)
    expected = [sum(t > k for t in times) / len(times) for k in range(1, 6)]
    assert survival == pytest.approx(expected)


def test_kaplan_meier_with_censoring_hand_computed() -> None:
    # At risk 5,4,3,1 at turns 1-4; events 1,0,2,0: S = 0.8, 0.8, 0.8/3, 0.8/3.
    # Turn 5: nobody at risk but someone was at turn 4 -> carried; turn 6 -> nan.
    observations = [(1, True), (2, False), (3, True), (3, True), (4, False)]
    survival = kaplan_meier(observations, max_time=6)
    assert survival[:5] == pytest.approx([0.8, 0.8, 0.8 / 3, 0.8 / 3, 0.8 / 3])
    assert math.isnan(survival[5])


def test_kaplan_meier_censoring_differs_from_naive_share() -> None:
    # Counting censored subjects as survivors would give S(2) = 0.75; KM gives 0.5.
    survival = kaplan_meier([(1, False), (2, True), (3, False), (1, False)], max_time=2)
    assert survival == pytest.approx([1.0, 0.5])


def test_kaplan_meier_empty_and_zero_length() -> None:
    assert all(math.isnan(s) for s in kaplan_meier([], max_time=3))
    assert len(kaplan_meier([], max_time=3)) == 3
    assert kaplan_meier([(1, True)], max_time=0) == []


def test_kaplan_meier_rejects_bad_input() -> None:
    with pytest.raises(ValueError, match="max_time must be >= 0"):
        kaplan_meier([], max_time=-1)
    with pytest.raises(ValueError, match="event times start at 1"):
        kaplan_meier([(0, True)], max_time=2)
    with pytest.raises(ValueError, match="event times start at 1"):
        kaplan_meier([(-1, False)], max_time=2)


# --- bootstrap of a mean (the compare gate's CI) -----------------------------------------------


def _same_interval(a: tuple[float, float], b: tuple[float, float]) -> bool:
    return a == b or (all(map(math.isnan, a)) and all(map(math.isnan, b)))


RUBRIC_FRACTIONS = st.sampled_from([i / d for d in (1, 2, 3, 4, 5, 7) for i in range(d + 1)])


@given(
    st.lists(st.one_of(RUBRIC_FRACTIONS, st.floats(-1e6, 1e6)), max_size=40),
    st.integers(0, 3),
)
@settings(max_examples=60, deadline=None)
def test_bootstrap_mean_ci_is_bootstrap_ci_of_fmean(data: list[float], seed: int) -> None:
    fast = bootstrap_mean_ci(data, n_resamples=300, seed=seed)
    slow = bootstrap_ci(data, statistics.fmean, n_resamples=300, seed=seed)
    assert _same_interval(fast, slow)


def test_bootstrap_mean_ci_many_distinct_values_and_blocks(monkeypatch: pytest.MonkeyPatch) -> None:
    data = [((i * 7919) % 1000) / 997 - 0.5 for i in range(600)]  # > 256 distinct: fsum path
    rates = [float(i % 3 - 1) for i in range(600)]
    monkeypatch.setattr("harness._util._stats._BOOTSTRAP_CHUNK", 600 * 3 + 1)
    for values in (data, rates):
        expected = bootstrap_ci(values, statistics.fmean, n_resamples=50, seed=2)
        assert bootstrap_mean_ci(values, n_resamples=50, seed=2) == expected


def test_bootstrap_mean_ci_edges() -> None:
    assert all(math.isnan(x) for x in bootstrap_mean_ci([]))
    assert bootstrap_mean_ci([0.25]) == (0.25, 0.25)
    with_nan = [0.1, math.nan, 0.3]
    assert _same_interval(bootstrap_mean_ci(with_nan), bootstrap_ci(with_nan, statistics.fmean))
    with pytest.raises(ValueError, match="n_resamples"):
        bootstrap_mean_ci([1.0], n_resamples=0)
    with pytest.raises(ValueError, match="confidence"):
        bootstrap_mean_ci([1.0], confidence=1.0)


def test_resampled_means_have_the_bootstrap_distribution() -> None:
    import numpy as np

    from harness._util._stats import resampled_means

    values = [1.0] * 300 + [0.0] * 700 + [0.5] * 1000  # mean 0.4
    means = resampled_means(values, 4000, np.random.default_rng(3))
    assert means.shape == (4000,)
    assert float(means.mean()) == pytest.approx(0.4, abs=0.002)
    # The variance of a resample mean is the sample's (population) variance over n.
    expected_sd = (float(np.var(values)) / len(values)) ** 0.5
    assert float(means.std()) == pytest.approx(expected_sd, rel=0.08)
    assert set(resampled_means([2.0] * 5, 3, np.random.default_rng(0)).tolist()) == {2.0}
