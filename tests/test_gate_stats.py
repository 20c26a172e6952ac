"""The release gate's paired statistics: Tango's score interval, the margin test, true power,
and the sign-flip test's alternatives and fast path (issue 19, points 1-3)."""

from __future__ import annotations

import itertools
import math
from statistics import NormalDist

import numpy as np
import pytest
from hypothesis import given, settings
from hypothesis import strategies as st

import harness._util._stats as stats_module
from harness._util import (
    margin_p,
    mcnemar_exact,
    mcnemar_greater,
    paired_rate_ci,
    rate_plan,
    rate_power,
    score_plan,
    sign_flip_p,
    tango_interval,
)
from harness._util._paired import tango_z

Z95 = NormalDist().inv_cdf(0.975)


@st.composite
def tables(draw: st.DrawFn, max_n: int = 300) -> tuple[int, int, int]:
    """(new, resolved, n) of a paired comparison with at least one pair."""
    n = draw(st.integers(1, max_n))
    new = draw(st.integers(0, n))
    return new, draw(st.integers(0, n - new)), n


# ------------------------------------------------------------------ Tango's score statistic


@given(tables())
@settings(max_examples=200, deadline=None)
def test_tango_statistic_at_zero_is_mcnemars(table: tuple[int, int, int]) -> None:
    new, resolved, n = table
    expected = 0.0 if new == resolved else (new - resolved) / math.sqrt(new + resolved)
    assert float(tango_z(new, resolved, n, 0.0)) == pytest.approx(expected, rel=1e-9, abs=1e-12)


def _numeric_z(new: int, resolved: int, n: int, delta: float) -> float:
    """The score statistic with the constrained MLE found by maximising the likelihood."""
    rest = n - new - resolved

    def loglik(q: float) -> float:
        terms = [(new, q + delta), (resolved, q), (rest, 1.0 - 2.0 * q - delta)]
        return sum(k * math.log(p) if k else 0.0 for k, p in terms)

    low, high = max(0.0, -delta) + 1e-15, (1.0 - delta) / 2.0 - 1e-15
    for _ in range(200):  # golden-section search: the log-likelihood is concave in q
        a, b = low + 0.382 * (high - low), low + 0.618 * (high - low)
        low, high = (a, high) if loglik(a) < loglik(b) else (low, b)
    q = (low + high) / 2.0
    return (new - resolved - n * delta) / math.sqrt(n * (2.0 * q + delta * (1.0 - delta)))


@pytest.mark.parametrize(
    ("new", "resolved", "n", "delta"),
    [(22, 6, 200, 0.05), (22, 6, 200, -0.2), (3, 9, 40, 0.1), (1, 1, 21, -0.3), (5, 0, 12, 0.2)],
)
def test_tango_statistic_uses_the_constrained_maximum_likelihood(
    new: int, resolved: int, n: int, delta: float
) -> None:
    assert float(tango_z(new, resolved, n, delta)) == pytest.approx(
        _numeric_z(new, resolved, n, delta), rel=1e-6
    )


# ------------------------------------------------------------------ the interval


@given(tables())
@settings(max_examples=150, deadline=None)
def test_tango_interval_inverts_the_score_test(table: tuple[int, int, int]) -> None:
    new, resolved, n = table
    low, high = paired_rate_ci(new, resolved, n)
    estimate = (new - resolved) / n
    assert -1.0 <= low <= estimate <= high <= 1.0
    assert low < high  # never the bootstrap's zero-width interval
    if low > -1.0 + 1e-9:
        assert float(tango_z(new, resolved, n, low)) == pytest.approx(Z95, abs=1e-6)
    if high < 1.0 - 1e-9:
        assert float(tango_z(new, resolved, n, high)) == pytest.approx(-Z95, abs=1e-6)


@given(tables(), st.floats(-0.5, 0.5))
@settings(max_examples=200, deadline=None)
def test_score_test_at_the_margin_matches_the_lower_bound(
    table: tuple[int, int, int], margin: float
) -> None:
    new, resolved, n = table
    low, _ = paired_rate_ci(new, resolved, n)
    score_p = 1.0 - NormalDist().cdf(float(tango_z(new, resolved, n, margin)))
    if abs(low - margin) > 1e-9:
        assert (score_p < 0.025) == (low > margin)
    # The margin test is the score test, never below the exact test of any increase.
    assert margin_p(new, resolved, n, margin) == max(score_p, mcnemar_greater(new, resolved))


def test_tango_interval_edges() -> None:
    # No disagreement in 40 pairs: about +-z^2 / (n + z^2), not [0, 0].
    low, high = paired_rate_ci(0, 0, 40)
    assert high == pytest.approx(Z95**2 / (40 + Z95**2), rel=1e-9) and low == pytest.approx(-high)
    low, high = paired_rate_ci(1, 0, 1)  # one pair: wide, not [1, 1]
    assert low < -0.5 and high == 1.0
    assert paired_rate_ci(30, 0, 30)[1] == 1.0 and paired_rate_ci(0, 30, 30)[0] == -1.0
    assert all(math.isnan(x) for x in paired_rate_ci(0, 0, 0))
    lows, highs = tango_interval(np.array([0, 22]), np.array([0, 6]), np.array([40, 200]))
    assert lows.shape == (2,) and highs[1] == pytest.approx(paired_rate_ci(22, 6, 200)[1])
    with pytest.raises(ValueError, match=r"confidence must be in \(0, 1\)"):
        tango_interval(1, 0, 5, confidence=1.0)


def test_issue_example_ci_and_margin_test() -> None:
    # 200 pairs, 22 new and 6 resolved: +0.08, CI 0.03 to 0.135 -- the margin 0.05 is inside.
    low, high = paired_rate_ci(22, 6, 200)
    assert low == pytest.approx(0.0302, abs=1e-4) and high == pytest.approx(0.1355, abs=1e-4)
    assert mcnemar_exact(22, 6) < 0.01  # a change, clearly ...
    assert margin_p(22, 6, 200, 0.05) > 0.1  # ... but not shown to exceed the margin


def test_margin_test_edges() -> None:
    assert margin_p(4, 0, 4, 0.0) == pytest.approx(1 / 16)  # the exact test, not the score's 0.023
    assert margin_p(0, 0, 0, 0.05) == 1.0
    assert margin_p(50, 0, 50, 1.0) == 1.0  # no increase exceeds 100 points
    assert margin_p(3, 1, 10, -1.0) == mcnemar_greater(3, 1)
    assert mcnemar_greater(0, 0) == 1.0
    assert mcnemar_greater(6, 0) == pytest.approx(1 / 64)
    assert mcnemar_greater(0, 6) == 1.0


@given(st.integers(0, 60), st.integers(0, 60))
@settings(max_examples=100, deadline=None)
def test_one_sided_exact_mcnemar_is_the_binomial_tail(new: int, resolved: int) -> None:
    d = new + resolved
    tail = sum(math.comb(d, i) for i in range(new, d + 1)) / 2**d
    assert mcnemar_greater(new, resolved) == pytest.approx(tail, rel=1e-12)
    assert mcnemar_exact(new, resolved) == pytest.approx(
        min(1.0, 2 * min(tail, mcnemar_greater(resolved, new))), rel=1e-12
    )


# ------------------------------------------------------------------ power


def _brute_power(n: int, p_new: float, p_resolved: float, rule: str, level: float) -> float:
    """Power by enumerating every outcome and running the gate's own tests on it."""
    total = 0.0
    for new, resolved in itertools.product(range(n + 1), repeat=2):
        rest = n - new - resolved
        if rest < 0:
            continue
        if rule == "margin":
            reject = margin_p(new, resolved, n, 0.05) < level / 2
        else:
            reject = mcnemar_exact(new, resolved) < level and new - resolved > 0.05 * n
        if reject:
            total += (
                math.factorial(n) / (math.factorial(new) * math.factorial(resolved)
                                     * math.factorial(rest))
                * p_new**new * p_resolved**resolved * (1 - p_new - p_resolved) ** rest
            )  # fmt: skip
    return total


@pytest.mark.parametrize("rule", ["margin", "change"])
@pytest.mark.parametrize(("n", "p_new", "p_resolved"), [(12, 0.4, 0.05), (25, 0.3, 0.1)])
def test_exact_power_is_the_gates_own_rejection_rate(
    rule: str, n: int, p_new: float, p_resolved: float
) -> None:
    level = 0.05 / 3
    expected = _brute_power(n, p_new, p_resolved, rule, level)
    assert rate_power(n, p_new, p_resolved, rule, level, 0.05) == pytest.approx(expected, abs=1e-9)  # type: ignore[arg-type]


@pytest.mark.parametrize("rule", ["margin", "change"])
def test_power_at_the_mde_is_80_percent(rule: str) -> None:
    plan = rate_plan(150, rule, 0.05 / 12, 0.05, 0.10, "default")  # type: ignore[arg-type]
    assert plan.mde is not None and plan.attainable and plan.method == "exact"
    power = rate_power(150, 0.05 + plan.mde, 0.05, rule, 0.05 / 12, 0.05)  # type: ignore[arg-type]
    assert power == pytest.approx(0.80, abs=1e-3)
    if rule == "margin":
        assert plan.mde > 0.05  # the margin rule detects increases beyond the margin


def test_mde_accounts_for_holm() -> None:
    alone = rate_plan(200, "change", 0.05, 0.05, 0.10, "default").mde
    among_twelve = rate_plan(200, "change", 0.05 / 12, 0.05, 0.10, "default").mde
    assert alone is not None and among_twelve is not None and among_twelve > alone


def test_normal_power_takes_over_smoothly_at_large_n() -> None:
    exact = rate_power(2000, 0.12, 0.05, "margin", 0.01, 0.05)
    normal = rate_power(2001, 0.12, 0.05, "margin", 0.01, 0.05)
    assert normal == pytest.approx(exact, abs=0.01)
    assert rate_plan(100_000, "margin", 0.01, 0.05, 0.1, "default").method == "normal"


def test_four_pairs_cannot_be_significant_and_say_how_many_can() -> None:
    # The issue: 4 pairs, all new -- exact McNemar p 0.125 at best, yet an MDE was printed.
    for rule, best in (("change", 0.125), ("margin", 0.0625)):
        plan = rate_plan(4, rule, 0.05, 0.05, 0.10, "default")  # type: ignore[arg-type]
        assert not plan.attainable and plan.mde is None
        assert plan.best_p == pytest.approx(best) and plan.pairs_needed == 6
        assert rate_plan(6, rule, 0.05, 0.05, 0.10, "default").attainable  # type: ignore[arg-type]
    # Twelve comparisons need more pairs for any result to count.
    assert rate_plan(4, "margin", 0.05 / 12, 0.05, 0.1, "default").pairs_needed == 10
    never = rate_plan(50, "margin", 0.05, 1.0, 0.1, "default")
    assert not never.attainable and never.pairs_needed is None


def test_knowledge_power_is_for_the_sign_flip_test() -> None:
    # The issue: 5 knowledge pairs, smallest sign-flip p 0.0625, MDE printed 0.125.
    plan = score_plan(5, "change", 0.05, 0.0, 0.25, "default")
    assert not plan.attainable and plan.mde is None and plan.best_p == pytest.approx(0.0625)
    assert plan.pairs_needed == 6
    assert sign_flip_p([-0.5] * 5) == pytest.approx(plan.best_p)
    margin = score_plan(100, "margin", 0.05 / 3, 0.1, 0.25, "default")
    assert margin.attainable and margin.mde is not None and margin.mde > 0.1
    # The Monte Carlo floor 1/20,001: more pairs cannot help below it.
    floor = score_plan(100, "margin", 1e-5, 0.0, 0.25, "default")
    assert not floor.attainable and floor.pairs_needed is None


# ------------------------------------------------------------------ sign flip


def _old_sign_flip_exact(differences: list[float]) -> float:
    """The previous exact enumeration, term by term."""
    n, observed = len(differences), abs(sum(differences))
    extreme = 0
    for pattern in range(2**n):
        total = sum(d if pattern >> i & 1 else -d for i, d in enumerate(differences))
        extreme += abs(total) >= observed - 1e-12
    return extreme / 2**n


@given(st.lists(st.integers(-4, 4).map(lambda k: k / 4), min_size=1, max_size=10))
@settings(max_examples=60, deadline=None)
def test_sign_flip_exact_path_is_unchanged(differences: list[float]) -> None:
    assert sign_flip_p(differences) == _old_sign_flip_exact(differences)


def test_sign_flip_alternatives() -> None:
    drops = [-0.25] * 6
    assert sign_flip_p(drops, alternative="less") == pytest.approx(1 / 64)
    assert sign_flip_p(drops, alternative="greater") == 1.0
    assert sign_flip_p(drops) == pytest.approx(2 / 64)
    many = [-0.5] * 25 + [0.25] * 5
    assert sign_flip_p(many, alternative="less") < 0.001 < sign_flip_p(many, alternative="greater")
    with pytest.raises(ValueError, match="alternative must be one of"):
        sign_flip_p([0.1], alternative="smaller")


def test_sign_flip_grouped_draws_match_drawing_every_sign(monkeypatch: pytest.MonkeyPatch) -> None:
    rng = np.random.default_rng(7)
    differences = (rng.integers(-3, 4, size=60) / 6 + 0.05).tolist()
    grouped = sign_flip_p(differences, seed=1)
    monkeypatch.setattr(stats_module, "_DISTINCT_FAST", 0)  # force one sign per pair
    every = sign_flip_p(differences, seed=1)
    assert grouped != every  # two different Monte Carlo streams ...
    assert grouped == pytest.approx(every, abs=0.02)  # ... of the same distribution
