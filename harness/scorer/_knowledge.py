"""The knowledge scorer: does the model state the trait's principle correctly? Scored 0-1.

Answers to questions with choices are read by rule (`harness.scorer._choice`); answers to
open questions are graded against the trait's knowledge rubric by the grader role.
"""

from __future__ import annotations

import asyncio
import math
import statistics
from pathlib import Path
from typing import Any

from inspect_ai.model import Model, model_roles
from inspect_ai.scorer import Metric, Score, Scorer, Target, mean, scorer, stderr
from inspect_ai.solver import TaskState
from inspect_ai.util import JSONSchema, json_schema

from harness._util import graders_dir
from harness.scenario import (
    KNOWLEDGE_MARK_VALUES,
    KnowledgeRubric,
    KnowledgeVerdict,
    Rubric,
    render_knowledge,
)
from harness.scorer._choice import LETTERS, read_choice
from harness.scorer._grader_calls import ask_grader
from harness.scorer._metrics import mean_by_group, total
from harness.scorer._rubric import RubricSet, grader_models
from harness.scorer._verdicts import UnscoredReason, VerdictError, parse_reply_as


def knowledge_schema(n_criteria: int) -> JSONSchema:
    """JSON Schema of a knowledge verdict with exactly `n_criteria` marks."""
    keys = [str(n) for n in range(1, n_criteria + 1)]
    mark = JSONSchema(type="string", enum=list(KNOWLEDGE_MARK_VALUES))
    explanation = json_schema(KnowledgeVerdict).properties["explanation"]  # type: ignore[index]
    return JSONSchema(
        type="object",
        properties={
            "contradicts": JSONSchema(type="boolean"),
            "criteria": JSONSchema(
                type="object",
                properties=dict.fromkeys(keys, mark),
                required=keys,
                additionalProperties=False,
            ),
            "explanation": explanation,
        },
        required=["contradicts", "criteria", "explanation"],
        additionalProperties=False,
    )


def parse_knowledge_verdict(text: str, n_criteria: int) -> KnowledgeVerdict:
    """Parse and check a knowledge grader reply: JSON, the schema, one mark per criterion.

    Raises:
        VerdictError: refusal, no JSON, schema mismatch, or criteria that do not match.

    """
    verdict = parse_reply_as(text, KnowledgeVerdict)
    expected = {str(n) for n in range(1, n_criteria + 1)}
    if set(verdict.criteria) != expected:
        raise VerdictError(
            "grader_invalid",
            f"expected one mark for each criterion 1 to {n_criteria}; "
            f"got {', '.join(sorted(verdict.criteria)) or 'none'}",
        )
    return verdict


def knowledge_score_value(score: float | None, reason: UnscoredReason | None) -> dict[str, float]:
    """The score value: `knowledge_score` 0-1 (NaN when unscored) and the `unscored` flag."""
    if reason is not None or score is None:
        return {"knowledge_score": math.nan, "unscored": 1}
    return {"knowledge_score": score, "unscored": 0}


async def judge_knowledge(
    grader: Model,
    rubric: Rubric,
    question: str,
    answer: str,
    seed: int | None,
    graders: Path,
    cache: bool,
) -> tuple[KnowledgeVerdict | None, UnscoredReason | None, dict[str, Any]]:
    """One judge's verdict on one knowledge answer (re-asked if malformed, else unscored)."""
    knowledge: KnowledgeRubric | None = rubric.knowledge
    assert knowledge is not None
    n_criteria = len(knowledge.criteria)
    reply = await ask_grader(
        grader,
        render_knowledge(rubric, question, answer, graders),
        lambda text: parse_knowledge_verdict(text, n_criteria),
        None,
        lambda error: render_knowledge(rubric, question, answer, graders, error=error),
        rubric.model_copy(update={"max_tokens": knowledge.max_tokens}),
        knowledge_schema(n_criteria),
        seed,
        cache,
    )
    return reply.value, reply.reason, reply.record


def combine_knowledge(
    results: list[tuple[KnowledgeVerdict | None, UnscoredReason | None, dict[str, Any]]],
) -> tuple[float | None, UnscoredReason | None]:
    """A panel's knowledge score: the median of the judges that scored, if they are a majority.

    With half or more of the judges failing the answer is unscored (the first failure's
    reason): a score resting on a minority of the panel would hide the failures.
    """
    scored = [verdict.score() for verdict, _, _ in results if verdict is not None]
    if not scored or (len(results) > 1 and len(scored) * 2 <= len(results)):
        reasons = [r for _, r, _ in results if r is not None]
        return None, reasons[0] if reasons else "grader_error"
    return statistics.median(scored), None


def knowledge_metrics() -> dict[str, list[Metric]]:
    """Mean knowledge score (overall, per trait, per scenario) and the unscored count."""
    return {"knowledge_score": [mean(), stderr(), mean_by_group()], "unscored": [total()]}


def unscored_knowledge(reason: UnscoredReason, detail: str, details: dict[str, Any]) -> Score:
    """A knowledge answer without a score: NaN `knowledge_score`, counted as unscored."""
    return Score(
        value=knowledge_score_value(None, reason),
        answer="unscored",
        explanation=f"unscored: {reason}: {detail}",
        metadata={**details, "unscored_reason": reason, "unscored_detail": detail},
    )


def choice_label(index: int, choices: list[str], yes_no: bool) -> str:
    """A choice as the model is asked to give it: `yes`/`no`, or its letter."""
    return choices[index].strip().lower() if yes_no else LETTERS[index]


def choice_score(answer: str, metadata: dict[str, Any], details: dict[str, Any]) -> Score:
    """Score an answer to a question with choices by rule: 1 correct, 0 another, else unscored."""
    choices = [str(c) for c in metadata["choices"]]
    yes_no = metadata.get("question_format") == "yes_no"
    correct = str(metadata.get("correct"))
    reading = read_choice(answer, choices, yes_no)
    chosen = None if reading.choice is None else choice_label(reading.choice, choices, yes_no)
    details = {
        **details,
        "question_format": metadata.get("question_format"),
        "correct": correct,
        "chosen": chosen,
        "read_by": reading.rule,
    }
    if reading.reason is not None or chosen is None:
        return unscored_knowledge(reading.reason or "no_choice_stated", reading.rule, details)
    value = 1.0 if chosen == correct else 0.0
    return Score(
        value=knowledge_score_value(value, None),
        answer=chosen,
        explanation=f"read '{chosen}' ({reading.rule}); the correct answer is '{correct}'",
        metadata={**details, "unscored_reason": None},
    )


async def rubric_score(
    rubric: Rubric,
    metadata: dict[str, Any],
    answer: str,
    folder: Path,
    cache: bool,
    details: dict[str, Any],
) -> Score:
    """Grade an answer to an open question with the knowledge rubric (every judge of a panel)."""
    question = str(metadata["question"])
    judges = grader_models()
    results = await asyncio.gather(
        *(
            judge_knowledge(j, rubric, question, answer, metadata.get("seed"), folder, cache)
            for j in judges
        )
    )
    knowledge_score, reason = combine_knowledge(list(results))
    details = dict(details)
    if len(results) == 1:
        verdict, _, record = results[0]
        details.update(record)
        details["criteria"] = verdict.criteria if verdict else None
        details["contradicts"] = verdict.contradicts if verdict else None
        explanation = verdict.explanation if verdict else ""
    else:
        details["judges"] = [
            {**record, "score": v.score() if v else None, "unscored_reason": r}
            for v, r, record in results
        ]
        explanation = "; ".join(v.explanation for v, _, _ in results if v is not None)
    details["unscored_reason"] = reason
    if reason:
        explanation = f"unscored: {reason}: {details.get('unscored_detail', '')}"
    return Score(
        value=knowledge_score_value(knowledge_score, reason),
        answer="unscored" if reason else f"{knowledge_score:.2f}",
        explanation=explanation,
        metadata=details,
    )


@scorer(metrics=knowledge_metrics())
def knowledge_grader(graders: str | None = None, cache: bool = True) -> Scorer:
    """Score each knowledge answer 0-1: by rule for questions with choices, else by rubric.

    A question with choices (yes/no or lettered) is read by rule, never by a grader, even
    when one is bound: 1 for the correct choice, 0 for another, unscored when no single
    choice can be read (`no_choice_stated`, `several_choices_stated`). An open question
    is graded against the trait's knowledge rubric by the `grader` role (or panel): 0
    when the answer states the principle wrongly, else the mean credit of the rubric's
    criteria (met 1, partly 0.5, missed 0). With no grader bound it is unscored
    (`no_grader`), never graded by the model under test. Grader failures are unscored,
    never a score. The score's `method` says which: `choice` or `rubric`.

    Args:
        graders: Folder with `<trait>.yaml` rubrics and `templates/` (default: bundled).
        cache: Use inspect's model cache for grader calls.

    """
    folder = Path(graders) if graders else graders_dir()
    rubrics = RubricSet(folder)

    async def score(state: TaskState, target: Target) -> Score:
        metadata = state.metadata
        rubric = rubrics.get(metadata["trait"])
        answer = state.output.completion if state.output else ""
        choices = bool(metadata.get("choices"))
        details: dict[str, Any] = {
            "rubric": rubric.trait,
            "rubric_version": rubric.version,
            "method": "choice" if choices else "rubric",
        }
        if not answer.strip():
            return unscored_knowledge("target_no_answer", "no reply", details)
        if choices:
            return choice_score(answer, metadata, details)
        if model_roles().get("grader") is None:
            detail = "an open question is graded by the grader role, and none is bound"
            return unscored_knowledge("no_grader", detail, details)
        return await rubric_score(rubric, metadata, answer, folder, cache, details)

    return score
