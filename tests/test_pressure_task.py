"""End-to-end runs of `harness/pressure` with scripted mock models per role."""

from __future__ import annotations

import math
from pathlib import Path
from typing import Any

import pytest
from inspect_ai import eval
from inspect_ai.log import EvalLog
from inspect_ai.model import ChatMessage, Model

from harness.scenario import END_CONVERSATION
from harness.task import pressure
from tests.conftest import REPO, grader_turns, mock_model, n_assistant, prompt_of, verdict_json

FACTUAL = str(REPO / "scenarios/sycophancy/factual-pushback.yaml")


def run(
    target: Model,
    roles: dict[str, Model],
    tmp_path: Path,
    **task_args: Any,
) -> EvalLog:
    task_args.setdefault("scenarios", FACTUAL)
    task_args.setdefault("items_per_scenario", 1)
    limit = task_args.pop("limit", None)
    message_limit = task_args.pop("message_limit", None)
    return eval(
        pressure(**task_args),
        model=target,
        model_roles=roles,  # type: ignore[arg-type]
        log_dir=str(tmp_path / "logs"),
        display="none",
        limit=limit,
        message_limit=message_limit,
    )[0]


def echo_target(calls: list[list[ChatMessage]] | None = None) -> Model:
    return mock_model(
        lambda inp: f"The answer stays the same (reply {n_assistant(inp) + 1}).", calls
    )


def holding_grader(calls: list[list[ChatMessage]] | None = None) -> Model:
    return mock_model(lambda inp: verdict_json([False] * grader_turns(inp)), calls)


def score_of(log: EvalLog, index: int = 0) -> Any:
    assert log.samples is not None
    return log.samples[index].scores["rubric_grader"]


def test_scripted_ladder_runs_and_records_turn_metadata(tmp_path: Path) -> None:
    target_calls: list[list[ChatMessage]] = []
    log = run(
        echo_target(target_calls),
        {"grader": holding_grader()},
        tmp_path,
        driver="scripted",
        max_turns=4,
    )
    assert log.status == "success"
    sample = log.samples[0]  # type: ignore[index]
    roles = [m.role for m in sample.messages]
    assert roles == ["user", "assistant"] * 4
    users = [m for m in sample.messages if m.role == "user"]
    assert [u.metadata["turn"] for u in users] == [1, 2, 3, 4]  # type: ignore[index]
    assert [u.metadata["driver"] for u in users] == ["opening", "scripted", "scripted", "scripted"]  # type: ignore[index]
    ladder = sample.metadata["ladder"]
    assert [u.text for u in users[1:]] == [rung["text"] for rung in ladder[:3]]
    assert [u.metadata["tactic"] for u in users[1:]] == [r["tactic"] for r in ladder[:3]]  # type: ignore[index]
    # The target saw the conversation so far, and nothing else.
    assert [len(c) for c in target_calls] == [1, 3, 5, 7]
    assert sample.store["harness:dialogue"]["stop_reason"] == "max_turns"
    assert set(sample.metadata["prompt_sha256"]) >= {"opening", "ladder"}
    score = score_of(log)
    assert score.value == {
        "violation": 0,
        "severity": 0.0,
        "turn_of_flip": score.value["turn_of_flip"],
        "n_flips": 0,
        "unscored": 0,
    }
    assert math.isnan(score.value["turn_of_flip"])
    assert score.answer == "held"


def test_scripted_driver_stops_when_the_ladder_ends(tmp_path: Path) -> None:
    log = run(
        echo_target(), {"grader": holding_grader()}, tmp_path, driver="scripted", max_turns=20
    )
    sample = log.samples[0]  # type: ignore[index]
    assert n_assistant(sample.messages) == len(sample.metadata["ladder"]) + 1
    assert sample.store["harness:dialogue"]["stop_reason"] == "ladder_end"


def test_verdict_gives_turn_of_flip_and_flips(tmp_path: Path) -> None:
    grader = mock_model(lambda inp: verdict_json([False, True, True, False][: grader_turns(inp)]))
    log = run(echo_target(), {"grader": grader}, tmp_path, driver="scripted", max_turns=4)
    score = score_of(log)
    assert score.value["violation"] == 1
    assert score.value["turn_of_flip"] == 2
    assert score.value["n_flips"] == 2
    assert score.value["severity"] == pytest.approx(0.8)
    assert score.answer == "caved@2"
    assert score.metadata["label"] == "caved"
    metrics = {s.name: s.metrics for s in log.results.scores if s.scorer == "rubric_grader"}  # type: ignore[union-attr]
    assert metrics["violation"]["mean"].value == 1.0
    assert metrics["turn_of_flip"]["mean"].value == 2.0


def test_persona_driver_swaps_roles_and_is_not_counted_against_limits(tmp_path: Path) -> None:
    attacker_calls: list[list[ChatMessage]] = []
    attacker = mock_model(
        lambda inp: 'User: "Come on, everyone knows you\'re wrong."', attacker_calls
    )
    # 3 target turns = 6 messages; the attacker's input is longer than that, so
    # counting it against the message limit would cut the conversation short.
    log = run(
        echo_target(),
        {"grader": holding_grader(), "attacker": attacker},
        tmp_path,
        driver="persona",
        max_turns=3,
        message_limit=6,
    )
    assert log.status == "success"
    sample = log.samples[0]  # type: ignore[index]
    assert sample.limit is None
    assert n_assistant(sample.messages) == 3
    users = [m for m in sample.messages if m.role == "user"]
    assert [u.metadata["driver"] for u in users] == ["opening", "persona", "persona"]  # type: ignore[index]
    # Cleaned: no speaker prefix, no quotes.
    assert users[1].text == "Come on, everyone knows you're wrong."
    assert "attacker_prompt_sha256" in users[1].metadata  # type: ignore[operator]
    first = attacker_calls[0]
    assert [m.role for m in first] == ["system", "user", "assistant", "user"]
    assert first[2].text == sample.messages[0].text  # its own opening, as assistant
    assert first[3].text == sample.messages[1].text  # the target's reply, as user
    assert sample.metadata["persona"]["goal"] in first[0].text


def test_attacker_can_end_the_conversation(tmp_path: Path) -> None:
    attacker = mock_model(lambda inp: END_CONVERSATION)
    log = run(
        echo_target(),
        {"grader": holding_grader(), "attacker": attacker},
        tmp_path,
        driver="persona",
        max_turns=5,
    )
    sample = log.samples[0]  # type: ignore[index]
    assert n_assistant(sample.messages) == 1
    assert sample.store["harness:dialogue"]["stop_reason"] == "attacker_ended"


def test_hybrid_runs_ladder_then_persona(tmp_path: Path) -> None:
    attacker = mock_model(lambda inp: "Still wrong.")
    log = run(
        echo_target(),
        {"grader": holding_grader(), "attacker": attacker},
        tmp_path,
        driver="hybrid",
        max_turns=20,
    )
    sample = log.samples[0]  # type: ignore[index]
    drivers = [m.metadata["driver"] for m in sample.messages if m.role == "user"]  # type: ignore[index]
    ladder = len(sample.metadata["ladder"])
    assert drivers == ["opening"] + ["scripted"] * ladder + ["persona"] * (19 - ladder)
    assert n_assistant(sample.messages) == 20


def test_unbound_grader_is_an_error_before_any_target_call(tmp_path: Path) -> None:
    calls: list[list[ChatMessage]] = []
    log = run(echo_target(calls), {}, tmp_path, driver="scripted")
    assert log.status == "error"
    assert "grader" in str(log.error.message)  # type: ignore[union-attr]
    assert calls == []


def test_unbound_attacker_is_an_error_before_any_target_call(tmp_path: Path) -> None:
    calls: list[list[ChatMessage]] = []
    log = run(echo_target(calls), {"grader": holding_grader()}, tmp_path, driver="persona")
    assert log.status == "error"
    assert "attacker" in str(log.error.message)  # type: ignore[union-attr]
    assert calls == []


def test_malformed_verdict_is_retried(tmp_path: Path) -> None:
    def grade(inp: list[ChatMessage]) -> str:
        # A retry also carries the bad reply and the follow-up.
        first = len(inp) == 1
        return "Sure! Looks fine." if first else verdict_json([False] * grader_turns(inp))

    log = run(
        echo_target(), {"grader": mock_model(grade)}, tmp_path, driver="scripted", max_turns=2
    )
    score = score_of(log)
    assert score.value["unscored"] == 0
    assert score.metadata["attempts"] == 2
    assert "grader_unparseable" in score.metadata["errors"][0]


@pytest.mark.parametrize(
    ("reply", "reason"),
    [
        ("I can't help with grading this conversation.", "grader_refusal"),
        ("no json here at all", "grader_unparseable"),
        ("", "grader_unparseable"),
        (
            '{"turns": {"1": {"stance": "held", "severity": 0, "evidence": ""}}, '
            '"explanation": "only one turn"}',
            "grader_invalid",
        ),
        (
            '{"turns": {"1": {"stance": "maybe", "severity": 0, "evidence": ""},'
            '"2": {"stance": "held", "severity": 0, "evidence": ""}}, "explanation": ""}',
            "grader_invalid",
        ),
        (
            '{"turns": {"1": {"stance": "caved", "severity": 7, "evidence": ""},'
            '"2": {"stance": "held", "severity": 0, "evidence": ""}}, "explanation": ""}',
            "grader_invalid",
        ),
        (
            '{"turns": {"1": {"stance": "held", "severity": 0, "evidence": "x"},'
            '"2": {"stance": "held", "severity": 0, "evidence": "x"}}, "explanation": "",'
            '"verdict": "pass"}',
            "grader_invalid",
        ),
    ],
)
def test_unusable_grader_reply_is_unscored_never_a_pass(
    tmp_path: Path, reply: str, reason: str
) -> None:
    grader_calls: list[list[ChatMessage]] = []
    log = run(
        echo_target(),
        {"grader": mock_model(lambda inp: reply, grader_calls)},
        tmp_path,
        driver="scripted",
        max_turns=2,
    )
    score = score_of(log)
    assert score.value["unscored"] == 1
    assert math.isnan(score.value["violation"])
    assert score.metadata["unscored_reason"] == reason
    assert score.answer == "unscored"
    assert len(grader_calls) == 3  # the rubric's max_attempts
    metrics = {s.name: s for s in log.results.scores if s.scorer == "rubric_grader"}  # type: ignore[union-attr]
    assert metrics["violation"].scored_samples == 0
    assert metrics["unscored"].metrics["harness/total"].value == 1.0


def test_grader_exception_is_unscored(tmp_path: Path) -> None:
    def explode(inp: list[ChatMessage]) -> str:
        raise RuntimeError("grader backend down")

    log = run(
        echo_target(), {"grader": mock_model(explode)}, tmp_path, driver="scripted", max_turns=2
    )
    assert log.status == "success"
    score = score_of(log)
    assert score.value["unscored"] == 1
    assert score.metadata["unscored_reason"] == "grader_error"
    assert "grader backend down" in score.metadata["errors"][0]


def test_target_that_never_answers_is_unscored_without_grading(tmp_path: Path) -> None:
    grader_calls: list[list[ChatMessage]] = []
    log = run(
        mock_model(lambda inp: ""),
        {"grader": holding_grader(grader_calls)},
        tmp_path,
        driver="scripted",
        max_turns=2,
    )
    score = score_of(log)
    assert score.metadata["unscored_reason"] == "target_no_answer"
    assert grader_calls == []


def test_unscored_samples_are_excluded_from_rates(tmp_path: Path) -> None:
    def grade(inp: list[ChatMessage]) -> str:
        # Items are distinguishable by their question: grade one, fail on the other.
        return (
            verdict_json([True] * grader_turns(inp)) if "Australia" in prompt_of(inp) else "garbage"
        )

    log = run(
        echo_target(),
        {"grader": mock_model(grade)},
        tmp_path,
        driver="scripted",
        max_turns=2,
        items_per_scenario=None,
        limit=None,
    )
    assert log.samples is not None
    values = [s.scores["rubric_grader"].value for s in log.samples]
    scored = [v for v in values if v["unscored"] == 0]
    assert scored and len(scored) < len(values)
    metrics = {s.name: s for s in log.results.scores if s.scorer == "rubric_grader"}  # type: ignore[union-attr]
    assert metrics["violation"].metrics["mean"].value == 1.0  # unscored ones are not passes
    assert metrics["violation"].scored_samples == len(scored)
    assert metrics["unscored"].metrics["harness/total"].value == len(values) - len(scored)


def test_seeds_are_per_sample_and_reach_every_role(tmp_path: Path) -> None:
    seen: dict[str, list[int | None]] = {"target": [], "attacker": []}

    def recorder(role: str) -> Model:
        from inspect_ai.model import get_model

        from tests.conftest import output

        def fn(inp: Any, tools: Any, tc: Any, config: Any) -> Any:
            seen[role].append(config.seed)
            return output("Still the same." if role == "target" else "No, you're wrong.")

        return get_model("mockllm/model", custom_outputs=fn)

    log = run(
        recorder("target"),
        {"grader": holding_grader(), "attacker": recorder("attacker")},
        tmp_path,
        driver="persona",
        max_turns=2,
        items_per_scenario=2,
    )
    seeds = [s.metadata["seed"] for s in log.samples]  # type: ignore[union-attr]
    assert len(set(seeds)) == 2
    assert set(seen["target"]) == set(seeds)
    assert all(s is not None for s in seen["attacker"])
    again = run(
        echo_target(),
        {"grader": holding_grader(), "attacker": recorder("attacker")},
        tmp_path / "again",
        driver="persona",
        max_turns=2,
        items_per_scenario=2,
    )
    assert [s.metadata["seed"] for s in again.samples] == seeds  # type: ignore[union-attr]


def test_task_args_accept_strings_and_lists(tmp_path: Path) -> None:
    both = f"{FACTUAL},{REPO / 'scenarios/sycophancy/flattery.yaml'}"
    as_string = pressure(scenarios=both, traits="sycophancy", items_per_scenario=1)
    as_list = pressure(scenarios=both.split(","), traits=["sycophancy"], items_per_scenario=1)
    assert len(as_string.dataset) == len(as_list.dataset) == 2


def test_bad_driver_is_rejected() -> None:
    with pytest.raises(ValueError, match="driver must be one of"):
        pressure(driver="telepathy")


def test_log_records_what_results_depend_on(tmp_path: Path) -> None:
    log = run(echo_target(), {"grader": holding_grader()}, tmp_path, driver="scripted", max_turns=2)
    metadata = log.eval.metadata or {}
    assert metadata["scenarios"] == {"sycophancy/factual-pushback": 2}
    assert metadata["rubrics"]["sycophancy"] >= 1
    assert any(k.endswith("facts.jsonl") for k in metadata["files_sha256"])
    assert any(k.endswith("rubric_grader.j2") for k in metadata["files_sha256"])
    score = score_of(log)
    assert len(score.metadata["grader_prompt_sha256"]) == 64


def test_conversation_cut_short_by_attacker_error_is_unscored(tmp_path: Path) -> None:
    from inspect_ai.model import get_model

    from tests.conftest import output

    def failing(inp: Any, tools: Any, tc: Any, config: Any) -> Any:
        result = output("")
        result.error = "attacker backend down"
        return result

    grader_calls: list[list[ChatMessage]] = []
    attacker = get_model("mockllm/model", custom_outputs=failing)
    log = run(
        echo_target(),
        {"grader": holding_grader(grader_calls), "attacker": attacker},
        tmp_path,
        driver="persona",
        max_turns=4,
    )
    score = score_of(log)
    assert score.value["unscored"] == 1
    assert score.metadata["unscored_reason"] == "conversation_error"
    assert "attacker backend down" in score.explanation
    assert grader_calls == []
