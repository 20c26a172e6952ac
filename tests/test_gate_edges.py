"""Release-gate edge cases: empty, tiny and non-finite input, Holm with NaN, the decision on
unrounded p-values, unscored samples, and McNemar at large numbers of discordant pairs."""

from __future__ import annotations

import math
import time
from pathlib import Path
from typing import Any

import pytest
from hypothesis import given, settings
from hypothesis import strategies as st
from inspect_ai.log import EvalSample
from inspect_ai.scorer import Score

import harness.report._compare as compare_module
from harness._cli import main
from harness._util import KNOWLEDGE_SCORER_NAME, holm, mcnemar_exact, sign_flip_p
from harness._util._stats import MCNEMAR_EXACT_MAX
from harness.report import CompareInputError, compare_checkpoints
from harness.report._compare import Checkpoint, Unit, compare_pairs, pair_units, sample_unit

OLD_LOGS = Path(__file__).parent / "data" / "logs-0.1.0"


def _old_mcnemar(new_events: int, resolved_events: int) -> float:
    """The implementation the stored p-values were made with."""
    n = new_events + resolved_events
    if n == 0:
        return 1.0
    k = min(new_events, resolved_events)
    return min(1.0, 2.0 * float(sum(math.comb(n, i) for i in range(k + 1)) / 2**n))


def _exact_tail(k: int, n: int) -> float:
    return sum(math.comb(n, i) for i in range(k + 1)) / 2**n


# ------------------------------------------------------------------ compare_pairs


@pytest.mark.parametrize("kind", ["rate", "score"])
def test_no_pairs_give_a_defined_row(kind: str) -> None:
    row = compare_pairs([], kind)
    assert row["n_pairs"] == 0
    assert row["baseline_value"] is None and row["difference"] is None
    assert row["ci95"] == [None, None] and row["mde"] is None
    assert row["p_value"] == 1.0  # no evidence of a change: never significant


def test_one_pair_and_all_equal_pairs_are_defined() -> None:
    one = compare_pairs([(0.0, 1.0)], "rate")
    assert one["p_value"] == 1.0 and one["difference"] == 1.0 and one["mde"] is None
    assert compare_pairs([(0.5, 0.7)], "score")["p_value"] == 1.0
    for kind, value in (("rate", 1.0), ("rate", 0.0), ("score", 0.5)):
        row = compare_pairs([(value, value)] * 7, kind)
        assert row["p_value"] == 1.0 and row["difference"] == 0.0 and row["ci95"] == [0.0, 0.0]


@pytest.mark.parametrize("bad", [math.nan, math.inf, -math.inf])
@pytest.mark.parametrize("kind", ["rate", "score"])
def test_non_finite_outcomes_are_refused(bad: float, kind: str) -> None:
    pairs = [(0.0, 1.0), (1.0, 1.0), (bad, 0.0)]
    with pytest.raises(CompareInputError, match="NaN or infinite"):
        compare_pairs(pairs, kind)


def test_rate_outcomes_must_be_zero_or_one() -> None:
    with pytest.raises(CompareInputError, match="not 0 or 1"):
        compare_pairs([(0.0, 0.5)], "rate")


@given(st.lists(st.tuples(st.sampled_from([0.0, 1.0]), st.sampled_from([0.0, 1.0])), max_size=60))
@settings(max_examples=60, deadline=None)
def test_rate_rows_are_always_defined(pairs: list[tuple[float, float]]) -> None:
    row = compare_pairs(pairs, "rate")
    assert 0.0 <= row["p_value"] <= 1.0
    assert row["new_violations"] + row["resolved_violations"] <= len(pairs)


# ------------------------------------------------------------------ sign flip


@pytest.mark.parametrize("bad", [math.nan, math.inf, -math.inf])
@pytest.mark.parametrize("n", [3, 30])  # the exact and the Monte Carlo branch
def test_sign_flip_refuses_non_finite(bad: float, n: int) -> None:
    differences = [0.25] * (n - 1) + [bad]
    with pytest.raises(ValueError, match="finite differences"):
        sign_flip_p(differences)


@given(
    st.lists(st.floats(-1, 1), min_size=1, max_size=20),
    st.sampled_from([math.nan, math.inf, -math.inf]),
    st.data(),
)
@settings(max_examples=40, deadline=None)
def test_sign_flip_never_reports_from_non_finite(
    differences: list[float], bad: float, data: st.DataObject
) -> None:
    differences.insert(data.draw(st.integers(0, len(differences))), bad)
    with pytest.raises(ValueError):
        sign_flip_p(differences, n_resamples=200)


def test_sign_flip_in_blocks_draws_the_same_patterns(monkeypatch: pytest.MonkeyPatch) -> None:
    differences = [float(i % 5 - 2) for i in range(40)]  # integer sums: exact in any order
    whole = sign_flip_p(differences, n_resamples=999, seed=4)
    monkeypatch.setattr("harness._util._stats._SIGN_FLIP_CHUNK", 40 * 7)
    assert sign_flip_p(differences, n_resamples=999, seed=4) == whole


# ------------------------------------------------------------------ Holm and the decision


def test_holm_keeps_nan_and_does_not_disturb_the_others() -> None:
    adjusted = holm([0.01, math.nan, 0.02, 0.03])
    assert math.isnan(adjusted[1])
    assert adjusted[0] == pytest.approx(0.04)  # the NaN still counts in the family (m = 4)
    assert adjusted[2] == pytest.approx(0.06) and adjusted[3] == pytest.approx(0.06)
    assert all(math.isnan(p) for p in holm([math.nan, math.nan]))


def test_holm_refuses_p_outside_the_unit_interval() -> None:
    with pytest.raises(ValueError, match=r"in \[0, 1\]"):
        holm([0.1, 1.5])
    with pytest.raises(ValueError, match=r"in \[0, 1\]"):
        holm([math.inf])


@given(
    st.lists(st.one_of(st.floats(0, 1), st.just(math.nan)), max_size=12),
)
@settings(max_examples=100, deadline=None)
def test_holm_with_nan_is_conservative(p_values: list[float]) -> None:
    adjusted = holm(p_values)
    known = [p for p in p_values if not math.isnan(p)]
    for p, a in zip(p_values, adjusted, strict=True):
        assert math.isnan(a) == math.isnan(p)
        if not math.isnan(p):
            assert p <= a <= 1.0
    # Without the NaN tests the family is smaller, so the adjusted values can only be lower.
    for a, b in zip([a for a in adjusted if not math.isnan(a)], holm(known), strict=True):
        assert b <= a


def _fake_checkpoint(label: str) -> Checkpoint:
    return Checkpoint(label=label, source=label, logs={"pressure": []})


def _compare_with_holm(monkeypatch: pytest.MonkeyPatch, p_holm: float, **kwargs: Any) -> Any:
    """A comparison of one rate row whose Holm p-value is `p_holm` (difference +0.5)."""
    base = {("pressure", "s", f"i{i}", 1): Unit("t", 1, 1, 0.0) for i in range(4)}
    cand = {("pressure", "s", f"i{i}", 1): Unit("t", 1, 1, float(i < 2)) for i in range(4)}
    monkeypatch.setattr(compare_module, "arm_units", lambda logs, arm, scorer: logs)
    monkeypatch.setattr(compare_module, "_candidate_pressure", lambda b, c: (cand, "live"))
    monkeypatch.setattr(compare_module, "holm", lambda ps: [p_holm] * len(ps))
    monkeypatch.setattr(compare_module, "newly_flagged", lambda a, b: {"patterns": []})
    monkeypatch.setattr(Checkpoint, "paths", lambda self: [])
    monkeypatch.setattr(
        Checkpoint, "report", lambda self: {"checkpoint": self.label, "traits": {}, "unscored": {}}
    )
    baseline, candidate = _fake_checkpoint("base"), _fake_checkpoint("cand")
    baseline.logs = {"pressure": base}  # type: ignore[dict-item]
    return compare_checkpoints([baseline, candidate], **kwargs)


def test_decision_uses_the_unrounded_holm_p(monkeypatch: pytest.MonkeyPatch) -> None:
    comparison = _compare_with_holm(monkeypatch, 0.0499996)
    (row,) = comparison.rows
    assert row["p_holm"] == 0.05  # displayed rounded ...
    assert row["regression"] is True  # ... but 0.0499996 < 0.05 decides
    assert _compare_with_holm(monkeypatch, 0.05).rows[0]["regression"] is False


def test_nan_holm_p_is_never_a_regression(monkeypatch: pytest.MonkeyPatch) -> None:
    assert _compare_with_holm(monkeypatch, math.nan).rows[0]["regression"] is False


@pytest.mark.parametrize(
    ("kwargs", "message"),
    [
        ({"alpha": math.nan}, "--alpha must be between 0 and 1"),
        ({"alpha": 0.0}, "--alpha must be between 0 and 1"),
        ({"alpha": 1.5}, "--alpha must be between 0 and 1"),
        ({"margin": math.nan}, "--margin must be a finite number"),
        ({"knowledge_margin": math.inf}, "--knowledge-margin must be a finite number"),
    ],
)
def test_gate_settings_that_cannot_decide_are_refused(
    monkeypatch: pytest.MonkeyPatch, kwargs: dict[str, float], message: str
) -> None:
    with pytest.raises(CompareInputError, match=message):
        _compare_with_holm(monkeypatch, 0.01, **kwargs)


def test_cli_turns_bad_gate_settings_into_exit_2(capsys: pytest.CaptureFixture[str]) -> None:
    logs = [str(OLD_LOGS / "ckpt-1"), str(OLD_LOGS / "ckpt-2")]
    assert main(["compare", *logs, "--alpha", "nan"]) == 2
    captured = capsys.readouterr()
    assert "--alpha must be between 0 and 1" in captured.out + captured.err
    assert "Traceback" not in captured.out + captured.err


def test_cli_turns_non_finite_outcomes_into_exit_2(
    monkeypatch: pytest.MonkeyPatch, capsys: pytest.CaptureFixture[str]
) -> None:
    def broken(pairs: list[tuple[float, float]], kind: str) -> dict[str, Any]:
        return compare_pairs([*pairs, (math.nan, 0.0)], kind)

    monkeypatch.setattr(compare_module, "compare_pairs", broken)
    logs = [str(OLD_LOGS / "ckpt-1"), str(OLD_LOGS / "ckpt-2")]
    assert main(["compare", *logs]) == 2
    captured = capsys.readouterr()
    assert "NaN or infinite" in captured.out + captured.err
    assert "Traceback" not in captured.out + captured.err


# ------------------------------------------------------------------ pairing


def _knowledge_sample(value: float) -> EvalSample:
    score = Score(value={"knowledge_score": value, "unscored": 0}, metadata={"rubric_version": 1})
    return EvalSample(
        id="q1", epoch=1, input="x", target="y", metadata={"trait": "t"},
        scores={KNOWLEDGE_SCORER_NAME: score},
    )  # fmt: skip


@pytest.mark.parametrize("bad", [math.nan, math.inf, -math.inf])
def test_non_finite_knowledge_score_is_unscored(bad: float) -> None:
    found = sample_unit(_knowledge_sample(bad), "knowledge", "rubric_grader")
    assert found is not None and found[1].value is None
    finite = sample_unit(_knowledge_sample(0.5), "knowledge", "rubric_grader")
    assert finite is not None and finite[1].value == 0.5


def test_candidate_without_any_score_is_unscored_not_a_rubric_mismatch() -> None:
    key = ("pressure", "s/a", "i1", 1)
    base = {key: Unit("t", 1, 1, 0.0)}
    assert pair_units(base, {key: Unit("t", 1, None, None)}).skipped == {"unscored in one run": 1}
    assert pair_units({key: Unit("t", 1, None, None)}, base).skipped == {"unscored in one run": 1}
    # A scored sample of another (or an unrecorded) rubric version is still refused as such.
    assert pair_units(base, {key: Unit("t", 1, 2, 1.0)}).skipped == {"rubric version 1 vs 2": 1}
    assert pair_units(base, {key: Unit("t", 1, None, 1.0)}).skipped == {
        "rubric version 1 vs None": 1
    }


# ------------------------------------------------------------------ McNemar


def test_mcnemar_exact_path_is_bit_identical_for_small_n() -> None:
    for n in range(0, 80):
        for new in range(n + 1):
            assert mcnemar_exact(new, n - new) == _old_mcnemar(new, n - new)


@given(st.integers(1, MCNEMAR_EXACT_MAX), st.data())
@settings(max_examples=150, deadline=None)
def test_mcnemar_exact_path_matches_the_old_sum(n: int, data: st.DataObject) -> None:
    new = data.draw(st.integers(0, n))
    assert mcnemar_exact(new, n - new) == _old_mcnemar(new, n - new)


@given(st.integers(MCNEMAR_EXACT_MAX + 1, 4000), st.data())
@settings(max_examples=60, deadline=None)
def test_mcnemar_fast_path_agrees_with_the_exact_sum(n: int, data: st.DataObject) -> None:
    # Around the middle, where the p-values a gate can act on lie.
    spread = 8 * math.isqrt(n)
    k = data.draw(st.integers(max(0, n // 2 - spread), n // 2))
    exact = min(1.0, 2.0 * _exact_tail(k, n))
    assert mcnemar_exact(k, n - k) == pytest.approx(exact, rel=1e-12, abs=0)


def test_mcnemar_fast_path_far_tail_and_edges() -> None:
    n = 3001
    for k in (0, 1, 5, 200, 700):
        exact = 2.0 * _exact_tail(k, n)
        assert mcnemar_exact(k, n - k) == pytest.approx(exact, rel=1e-12, abs=0)
    assert mcnemar_exact(10**6, 10**6) == 1.0
    assert mcnemar_exact(10**6, 10**6 + 1) == 1.0
    assert mcnemar_exact(0, 10**6) == 0.0  # 2^-10^6 underflows: below any alpha
    assert mcnemar_exact(123, 456_789) == mcnemar_exact(456_789, 123)


def test_mcnemar_is_fast_at_a_million_discordant_pairs() -> None:
    best = math.inf
    for _ in range(5):
        start = time.perf_counter()
        p = mcnemar_exact(499_000, 501_000)
        best = min(best, time.perf_counter() - start)
    assert 0.04 < p < 0.06
    assert best < 0.010


@pytest.mark.parametrize("counts", [(-1, 3), (1.5, 2), (True, 3)])
def test_mcnemar_refuses_bad_counts(counts: tuple[Any, Any]) -> None:
    with pytest.raises(ValueError, match="non-negative integers"):
        mcnemar_exact(*counts)
