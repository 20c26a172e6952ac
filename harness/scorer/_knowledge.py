"""The knowledge grader: does the model state the trait's principle correctly? Scored 0-1."""

from __future__ import annotations

import asyncio
import math
import statistics
from pathlib import Path
from typing import Any

from inspect_ai.model import Model
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


@scorer(metrics=knowledge_metrics())
def knowledge_grader(graders: str | None = None, cache: bool = True) -> Scorer:
    """Grade each knowledge answer against the trait's knowledge rubric (`grader` role), 0-1.

    0 when the answer states the principle wrongly, else the mean credit of the rubric's
    criteria (met 1, partly 0.5, missed 0). Grader failures are unscored, never a score.

    Args:
        graders: Folder with `<trait>.yaml` rubrics and `templates/` (default: bundled).
        cache: Use inspect's model cache for grader calls.

    """
    folder = Path(graders) if graders else graders_dir()
    rubrics = RubricSet(folder)

    async def score(state: TaskState, target: Target) -> Score:
        metadata = state.metadata
        rubric = rubrics.get(metadata["trait"])
        question = str(metadata["question"])
        answer = state.output.completion if state.output else ""
        details: dict[str, Any] = {
            "rubric": rubric.trait,
            "rubric_version": rubric.version,
            "method": "knowledge",
        }
        if not answer.strip():
            value = knowledge_score_value(None, "target_no_answer")
            return Score(
                value=value,
                answer="unscored",
                explanation="unscored: target_no_answer: no reply",
                metadata={**details, "unscored_reason": "target_no_answer"},
            )
        judges = grader_models()
        results = await asyncio.gather(
            *(
                judge_knowledge(j, rubric, question, answer, metadata.get("seed"), folder, cache)
                for j in judges
            )
        )
        knowledge_score, reason = combine_knowledge(list(results))
        if len(results) == 1:
            verdict, _, record = results[0]
            details.update(record)
            details["criteria"] = verdict.criteria if verdict else None
            details["contradicts"] = verdict.contradicts if verdict else None
            explanation = verdict.explanation if verdict else ""
        else:
            details["method"] = "knowledge-panel"
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

    return score
