"""The rubric grader: one grader call per conversation, per-turn verdicts, fail-closed."""

from __future__ import annotations

from pathlib import Path
from typing import Any

from inspect_ai.model import (
    ChatMessage,
    ChatMessageAssistant,
    ChatMessageUser,
    GenerateConfig,
    ResponseSchema,
    get_model,
)
from inspect_ai.scorer import Score, Scorer, Target, scorer
from inspect_ai.solver import TaskState
from inspect_ai.util import LimitExceededError

from harness._loader import load_rubric_file
from harness._metrics import conversation_metrics
from harness._paths import graders_dir
from harness._problems import Problem, ValidationFailed
from harness._prompts import Turn, grader_variables, render_grader, render_grader_retry
from harness._schema import Rubric
from harness._templates import sha256
from harness._verdicts import (
    Outcome,
    UnscoredReason,
    VerdictError,
    outcome_from_verdict,
    parse_verdict,
    verdict_schema,
)

DIALOGUE_STORE_KEY = "harness:dialogue"


def transcript(messages: list[ChatMessage]) -> list[Turn]:
    """User and assistant turns of a conversation, each numbered from 1 (system dropped)."""
    turns: list[Turn] = []
    counts = {"user": 0, "assistant": 0}
    for message in messages:
        if message.role in ("user", "assistant"):
            counts[message.role] += 1
            turns.append(Turn(message.role, message.text, counts[message.role]))
    return turns


class RubricSet:
    """Rubrics read lazily from a graders folder, one per trait."""

    def __init__(self, folder: Path) -> None:
        self.folder = folder
        self._rubrics: dict[str, Rubric] = {}

    def get(self, trait: str) -> Rubric:
        """The rubric for `trait`; raises `ValidationFailed` if missing or invalid."""
        if trait not in self._rubrics:
            path = self.folder / f"{trait}.yaml"
            if not path.is_file():
                raise ValidationFailed([Problem(str(path), 1, "", f"no rubric for '{trait}'")])
            problems: list[Problem] = []
            loaded = load_rubric_file(path, problems)
            if loaded is None:
                raise ValidationFailed(problems)
            self._rubrics[trait] = loaded.rubric
        return self._rubrics[trait]


def outcome_score(outcome: Outcome, metadata: dict[str, Any]) -> Score:
    """Wrap an outcome as an inspect `Score` carrying the fixed metric keys."""
    return Score(
        value=outcome.value(),
        answer=outcome.label(),
        explanation=(
            f"unscored: {outcome.unscored_reason}: {metadata.get('unscored_detail', '')}"
            if outcome.unscored
            else outcome.explanation
        ),
        metadata={
            "unscored_reason": outcome.unscored_reason,
            "evidence": outcome.evidence,
            "turns": outcome.per_turn,
            **metadata,
        },
    )


async def grade_conversation(
    rubric: Rubric,
    turns: list[Turn],
    scenario: dict[str, Any],
    expect: dict[str, str | None] | None,
    seed: int | None,
    graders: Path,
    cache: bool,
) -> tuple[Outcome, dict[str, Any]]:
    """Ask the `grader` role for per-turn verdicts, retrying malformed replies.

    Every failure ends as an unscored outcome with a reason; nothing here can
    turn a grader failure into a pass.
    """
    n_assistant = sum(t.role == "assistant" for t in turns)
    if n_assistant == 0 or not any(t.text.strip() for t in turns if t.role == "assistant"):
        return Outcome(unscored_reason="target_no_answer"), {"unscored_detail": "no reply"}
    grader = get_model(role="grader", required=True)
    prompt = render_grader(rubric, grader_variables(rubric, scenario, turns, expect), graders)
    config = GenerateConfig(
        temperature=rubric.temperature,
        max_tokens=rubric.max_tokens,
        seed=seed,
        response_schema=(
            ResponseSchema(name="verdict", json_schema=verdict_schema(n_assistant))
            if rubric.structured_output
            else None
        ),
    )
    messages: list[ChatMessage] = [ChatMessageUser(content=prompt)]
    metadata: dict[str, Any] = {
        "rubric": rubric.trait,
        "rubric_version": rubric.version,
        "grader_model": str(grader),
        "grader_prompt_sha256": sha256(prompt),
        "attempts": 0,
        "errors": [],
    }
    reason: UnscoredReason = "grader_error"
    for attempt in range(1, rubric.max_attempts + 1):
        metadata["attempts"] = attempt
        try:
            output = await grader.generate(messages, config=config, cache=cache)
        except LimitExceededError:
            raise
        except Exception as exc:  # any provider failure is unscored, never a pass
            reason = "grader_error"
            metadata["errors"].append(f"{type(exc).__name__}: {exc}")
            continue
        if output.error:
            reason = "grader_error"
            metadata["errors"].append(output.error)
            continue
        if output.stop_reason == "content_filter":
            reason = "grader_refusal"
            metadata["errors"].append("content_filter")
            continue
        try:
            verdict = parse_verdict(output.completion, n_assistant)
        except VerdictError as exc:
            reason = exc.reason
            metadata["errors"].append(f"{exc.reason}: {exc}")
            retry = render_grader_retry(rubric, str(exc), n_assistant, graders)
            messages = [
                *messages,
                ChatMessageAssistant(content=output.completion or "(empty)"),
                ChatMessageUser(content=retry),
            ]
            continue
        return outcome_from_verdict(verdict, turns), metadata
    metadata["unscored_detail"] = metadata["errors"][-1] if metadata["errors"] else ""
    return Outcome(unscored_reason=reason), metadata


@scorer(metrics=conversation_metrics())
def rubric_grader(graders: str | None = None, cache: bool = True) -> Scorer:
    """Grade each conversation with the trait's rubric using the `grader` model role.

    Args:
        graders: Folder with `<trait>.yaml` rubrics and `templates/` (default: bundled).
        cache: Use inspect's model cache for grader calls, so re-grading is free.

    """
    folder = Path(graders) if graders else graders_dir()
    rubrics = RubricSet(folder)

    async def score(state: TaskState, target: Target) -> Score:
        metadata = state.metadata
        rubric = rubrics.get(metadata["trait"])
        dialogue: dict[str, Any] = state.store.get(DIALOGUE_STORE_KEY, {})
        if dialogue.get("stop_reason") == "attacker_error":
            # Cut short by a failure, not by the target: holding so far is no pass.
            detail = str(dialogue.get("attacker_detail", {}).get("attacker_error", ""))
            return outcome_score(
                Outcome(unscored_reason="conversation_error"),
                {"unscored_detail": f"attacker failed: {detail}", "stop_reason": "attacker_error"},
            )
        turns = transcript(state.messages)
        scenario = {
            "id": metadata.get("scenario_id"),
            "description": metadata.get("scenario_description", ""),
        }
        outcome, details = await grade_conversation(
            rubric,
            turns,
            scenario,
            metadata.get("expect"),
            metadata.get("seed"),
            folder,
            cache,
        )
        details["stop_reason"] = dialogue.get("stop_reason")
        return outcome_score(outcome, details)

    return score
