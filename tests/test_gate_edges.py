"""Release-gate edge cases: empty, tiny and non-finite input, Holm with NaN, the decision on
unrounded p-values, unscored samples, and McNemar at large numbers of discordant pairs."""

from __future__ import annotations

import math
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
from harness.report import CompareInputError, compare_checkpoints, compare_markdown
from harness.report._compare import (
    Checkpoint,
    Unit,
    compare_pairs,
    judge_rows,
    pair_units,
    sample_unit,
)

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
    assert row["ci95"] == [None, None]
    assert row["p_value"] == 1.0 and row["p_margin"] == 1.0  # no evidence: never significant


def test_one_pair_and_all_equal_pairs_are_defined() -> None:
    one = compare_pairs([(0.0, 1.0)], "rate")
    assert one["p_value"] == 1.0 and one["difference"] == 1.0 and one["p_margin"] == 0.5
    low, high = one["ci95"]
    assert low < 0 and high == 1.0  # one pair says little: not the bootstrap's [1, 1]
    assert compare_pairs([(0.5, 0.7)], "score")["p_value"] == 1.0
    for value in (0.0, 1.0):
        row = compare_pairs([(value, value)] * 40, "rate")
        assert row["p_value"] == 1.0 and row["difference"] == 0.0
        low, high = row["ci95"]  # no disagreement in 40 pairs is not proof of no change
        assert low == pytest.approx(-high) and 0.08 < high < 0.1
    row = compare_pairs([(0.5, 0.5)] * 7, "score")
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


@pytest.mark.parametrize(("decision", "threshold"), [("change", 0.05), ("margin", 0.025)])
def test_decision_uses_the_unrounded_holm_p(
    monkeypatch: pytest.MonkeyPatch, decision: str, threshold: float
) -> None:
    comparison = _compare_with_holm(monkeypatch, threshold - 4e-7, decision=decision)
    (row,) = comparison.rows
    key = "p_holm" if decision == "change" else "p_margin_holm"
    assert row[key] == threshold  # displayed rounded ...
    assert row["regression"] is True  # ... but the unrounded value decides
    assert row["decision"] == decision == comparison.as_dict()["decision"]["rule"]
    rounded = _compare_with_holm(monkeypatch, threshold, decision=decision)
    assert rounded.rows[0]["regression"] is False


def test_nan_holm_p_is_never_a_regression(monkeypatch: pytest.MonkeyPatch) -> None:
    assert _compare_with_holm(monkeypatch, math.nan).rows[0]["regression"] is False


def _rows(*counts: tuple[int, int, int]) -> list[dict[str, Any]]:
    """Rate rows of compare_pairs from (new, resolved, n) counts, one trait each."""
    rows = []
    for i, (new, resolved, n) in enumerate(counts):
        pairs = [(0.0, 1.0)] * new + [(1.0, 0.0)] * resolved + [(0.0, 0.0)] * (n - new - resolved)
        rows.append({"trait": f"t{i}", "arm": "pressure", "candidate": "cand",
                     **compare_pairs(pairs, "rate", 0.05)})  # fmt: skip
    return rows


def test_the_margin_rule_asks_whether_the_increase_exceeds_the_margin() -> None:
    # The case: 200 pairs, 22 new and 6 resolved violations: +8 points, 95% CI
    # 3 to 13.5, p 0.004 -- a change, but the data do not show it exceeds 5 points.
    rule, (row,) = judge_rows(_rows((22, 6, 200)))
    assert rule.rule == "margin" and rule.p_key == "p_margin_holm" and rule.threshold == 0.025
    assert row["ci95"][0] < 0.05 < row["difference"] and row["p_holm"] < 0.01
    assert row["regression"] is False and row["decision"] == "margin"
    # The change rule (--decision change) fails the gate on it: the earlier alarm.
    rule, (row,) = judge_rows(_rows((22, 6, 200)), decision="change")
    assert rule.p_key == "p_holm" and row["regression"] is True
    assert "Decided by the change rule" in rule.statement
    # With the CI wholly above the margin both rules agree.
    for decision in ("margin", "change"):
        _, (row,) = judge_rows(_rows((40, 4, 200)), decision=decision)  # type: ignore[arg-type]
        assert row["ci95"][0] > 0.05 and row["regression"] is True


@given(st.integers(1, 120), st.data(), st.floats(-0.2, 0.3))
@settings(max_examples=120, deadline=None)
def test_one_row_margin_regression_means_the_ci_is_above_the_margin(
    n: int, data: st.DataObject, margin: float
) -> None:
    new = data.draw(st.integers(0, n))
    resolved = data.draw(st.integers(0, n - new))
    pairs = [(0.0, 1.0)] * new + [(1.0, 0.0)] * resolved + [(0.0, 0.0)] * (n - new - resolved)
    row = {
        "trait": "t",
        "arm": "pressure",
        "candidate": "c",
        **compare_pairs(pairs, "rate", margin),
    }
    _, (judged,) = judge_rows([row], margin=margin)
    low = compare_pairs(pairs, "rate")["ci95"][0]
    if judged["regression"]:
        assert low >= round(margin, 4) and mcnemar_exact(new, resolved) < 0.05


def test_power_is_planned_at_holms_level_with_outside_noise() -> None:
    counts = [(5, 1, 100)] * 12
    _, rows = judge_rows(_rows(*counts))
    power = rows[0]["power"]
    assert power["level"] == pytest.approx(0.05 / 12) and power["threshold"] == pytest.approx(
        0.025 / 12
    )
    assert power["noise"] == 0.10 and "default" in power["noise_source"]
    _, (alone,) = judge_rows(_rows(counts[0]))
    assert rows[0]["mde"] > alone["mde"]  # twelve comparisons need a larger effect
    # The candidate's own change does not move the assumed noise (it did: observed share).
    _, (big,) = judge_rows(_rows((60, 1, 100)))
    assert big["power"]["noise"] == 0.10 and big["mde"] == alone["mde"]
    variance = {"checkpoint": "base", "n_pairs": 80, "discordant_share": 0.25}
    _, (measured,) = judge_rows(_rows(counts[0]), baseline_variance=variance)
    assert measured["power"]["noise"] == 0.25
    assert "baseline's live vs replayed runs (80 pairs)" in measured["power"]["noise_source"]


def test_rows_that_cannot_reach_significance_say_so(monkeypatch: pytest.MonkeyPatch) -> None:
    comparison = _compare_with_holm(monkeypatch, 0.5)  # four pairs: two new violations
    (row,) = comparison.rows
    assert row["power"]["attainable"] is False and row["mde"] is None
    (warning,) = [w for w in comparison.warnings if "t pressure" in w]
    assert "no result of 4 pairs can reach significance" in warning
    assert "(4 new violations of 4) gives p 0.0625" in warning
    assert "at least 6 pairs are needed" in warning
    markdown = compare_markdown(comparison.as_dict())
    assert "cannot be significant" in markdown and "Decided by the margin rule" in markdown


@pytest.mark.parametrize(
    ("kwargs", "message"),
    [
        ({"decision": "sometimes"}, "--decision must be one of margin, change"),
        ({"expected_discordance": 1.0}, r"--expected-discordance must be in \[0, 1\)"),
        ({"expected_discordance": math.nan}, r"--expected-discordance must be in \[0, 1\)"),
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


@pytest.mark.parametrize(
    ("flags", "message"),
    [
        (["--alpha", "nan"], "--alpha must be between 0 and 1"),
        (["--expected-discordance", "1.5"], "--expected-discordance must be in [0, 1)"),
    ],
)
def test_cli_turns_bad_gate_settings_into_exit_2(
    capsys: pytest.CaptureFixture[str], flags: list[str], message: str
) -> None:
    logs = [str(OLD_LOGS / "ckpt-1"), str(OLD_LOGS / "ckpt-2")]
    assert main(["compare", *logs, *flags]) == 2
    captured = capsys.readouterr()
    assert message in captured.out + captured.err
    assert "Traceback" not in captured.out + captured.err


def test_cli_turns_non_finite_outcomes_into_exit_2(
    monkeypatch: pytest.MonkeyPatch, capsys: pytest.CaptureFixture[str]
) -> None:
    def broken(pairs: list[tuple[float, float]], kind: str, margin: float) -> dict[str, Any]:
        return compare_pairs([*pairs, (math.nan, 0.0)], kind, margin)

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


def test_mcnemar_at_a_million_discordant_pairs() -> None:
    # Its speed is measured in bench/mcnemar_speed.py (no timed tests here).
    assert 0.04 < mcnemar_exact(499_000, 501_000) < 0.06


@pytest.mark.parametrize("counts", [(-1, 3), (1.5, 2), (True, 3)])
def test_mcnemar_refuses_bad_counts(counts: tuple[Any, Any]) -> None:
    with pytest.raises(ValueError, match="non-negative integers"):
        mcnemar_exact(*counts)
