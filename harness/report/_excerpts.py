"""Transcript excerpts for the HTML report: the conversations worth reading first."""

from __future__ import annotations

from typing import Any

from inspect_ai.log import EvalLog, EvalSample

from harness._util import METHOD_SCORERS, SCORER_NAME
from harness.report._compare import Comparison

MAX_MESSAGE_CHARS = 800
"""Longer messages are cut in excerpts (the full text is in the log)."""


def excerpt(sample: EvalSample, checkpoint: str, scorer: str = SCORER_NAME) -> dict[str, Any]:
    """One sample as an excerpt: who said what, cut to a readable length.

    The text is model output and stays untrusted: the HTML renderer escapes it.
    """
    score = (sample.scores or {}).get(scorer)
    label = str(score.answer) if score is not None and score.answer else ""
    messages = []
    for message in sample.messages:
        if message.role not in ("system", "user", "assistant"):
            continue
        text = message.text
        if len(text) > MAX_MESSAGE_CHARS:
            text = text[:MAX_MESSAGE_CHARS] + " […]"
        messages.append({"role": message.role, "text": text})
    return {
        "checkpoint": checkpoint,
        "sample_id": str(sample.id),
        "trait": str((sample.metadata or {}).get("trait", "unknown")),
        "label": label,
        "messages": messages,
    }


def _violated(sample: EvalSample, scorer: str) -> bool | None:
    score = (sample.scores or {}).get(scorer)
    if score is None or not isinstance(score.value, dict) or score.value.get("unscored") != 0:
        return None
    return bool(score.value.get("violation") == 1)


def violations_by_trait(
    logs: list[EvalLog], checkpoint: str, per_trait: int, scorer: str = SCORER_NAME,
    exclude: set[str] | None = None,
) -> list[dict[str, Any]]:  # fmt: skip
    """Up to `per_trait` violating conversations per trait (ids in `exclude` skipped)."""
    chosen: list[dict[str, Any]] = []
    counts: dict[str, int] = {}
    for log in logs:
        for sample in log.samples or []:
            trait = str((sample.metadata or {}).get("trait", "unknown"))
            if counts.get(trait, 0) >= per_trait or str(sample.id) in (exclude or set()):
                continue
            if _violated(sample, scorer):
                counts[trait] = counts.get(trait, 0) + 1
                chosen.append(excerpt(sample, checkpoint, scorer))
    return chosen


def excerpts_for(comparison: Comparison, per_trait: int = 2) -> list[dict[str, Any]]:
    """Each candidate's new violations first (held in the baseline, violated now), per trait."""
    scorer = METHOD_SCORERS[comparison.method]
    baseline = comparison.checkpoints[0]
    held: set[str] = set()
    for log in baseline.logs.get("pressure", []):
        held.update(str(s.id) for s in log.samples or [] if _violated(s, scorer) is False)
    chosen: list[dict[str, Any]] = []
    for candidate in comparison.checkpoints[1:]:
        logs = candidate.replayed or candidate.logs.get("pressure", [])
        new = [
            excerpt(s, candidate.label, scorer)
            for log in logs
            for s in log.samples or []
            if str(s.id) in held and _violated(s, scorer)
        ]
        by_trait: dict[str, int] = {}
        for item in new:
            if by_trait.get(item["trait"], 0) < per_trait:
                by_trait[item["trait"]] = by_trait.get(item["trait"], 0) + 1
                chosen.append(item)
    if not chosen:
        for checkpoint in comparison.checkpoints:
            chosen += violations_by_trait(
                checkpoint.logs.get("pressure", []), checkpoint.label, 1, scorer
            )
    return chosen
