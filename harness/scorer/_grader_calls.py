"""One grader exchange: ask for JSON, re-ask on a malformed reply, fail closed.

Both the rubric grader and the flip detector's fallback go through `ask_grader`, so
every grader failure (provider error, refusal, no JSON, wrong shape) ends the same
way: no value and an unscored reason, never a default verdict.
"""

from __future__ import annotations

from collections.abc import Callable
from dataclasses import dataclass, field
from typing import Any, Generic, Protocol, TypeVar

from inspect_ai.model import (
    ChatMessage,
    ChatMessageAssistant,
    ChatMessageUser,
    GenerateConfig,
    Model,
    ResponseSchema,
)
from inspect_ai.util import JSONSchema, LimitExceededError

from harness._util import sha256
from harness.scorer._verdicts import UnscoredReason, VerdictError

T = TypeVar("T")


class GraderSettings(Protocol):
    """How a grader is asked: a `Rubric` has these, and so may a smaller settings model."""

    @property
    def temperature(self) -> float:
        """Sampling temperature."""

    @property
    def max_tokens(self) -> int:
        """Longest reply."""

    @property
    def max_attempts(self) -> int:
        """Calls before giving up."""

    @property
    def structured_output(self) -> bool:
        """Whether to ask for schema-constrained JSON."""


@dataclass
class GraderReply(Generic[T]):
    """A parsed grader reply, or why there is none; `record` goes into score metadata."""

    value: T | None
    reason: UnscoredReason | None
    record: dict[str, Any] = field(default_factory=dict)


async def ask_grader(
    grader: Model,
    prompt: str,
    parse: Callable[[str], T],
    system: str | None,
    retry_prompt: Callable[[str], str],
    rubric: GraderSettings,
    schema: JSONSchema | None,
    seed: int | None,
    cache: bool,
) -> GraderReply[T]:
    """Send `system` (a prefix shared by many calls, if any) and `prompt`; parse, re-ask.

    Up to `rubric.max_attempts` calls. `parse` raises `VerdictError` for an unusable
    reply; `retry_prompt(error)` renders the follow-up message. Provider errors and
    content filters are retried too.
    """
    config = GenerateConfig(
        temperature=rubric.temperature,
        max_tokens=rubric.max_tokens,
        seed=seed,
        response_schema=(
            ResponseSchema(name="verdict", json_schema=schema)
            if schema is not None and rubric.structured_output
            else None
        ),
    )
    # The rubric part goes first in the same message rather than as a system message:
    # the token prefix is then identical for every conversation of a trait (prefix
    # caching applies), and small chat models keep their own default system prompt
    # (the embedded model rambled inside JSON strings without it).
    prompt = prompt if system is None else f"{system}\n\n{prompt}"
    messages: list[ChatMessage] = [ChatMessageUser(content=prompt)]
    errors: list[str] = []
    record: dict[str, Any] = {
        "grader_model": str(grader),
        "grader_prompt_sha256": sha256(prompt),
        "attempts": 0,
        "errors": errors,
    }
    reason: UnscoredReason = "grader_error"
    # inspect caches every output, failed ones included: a retry of the very same
    # request must go to the provider, or it would get the cached failure back.
    use_cache = cache
    for attempt in range(1, rubric.max_attempts + 1):
        record["attempts"] = attempt
        try:
            output = await grader.generate(messages, config=config, cache=use_cache)
        except LimitExceededError:
            raise
        except Exception as exc:  # any provider failure is unscored, never a pass
            reason = "grader_error"
            errors.append(f"{type(exc).__name__}: {exc}")
            continue
        if output.error:
            reason, use_cache = "grader_error", False
            errors.append(output.error)
            continue
        if output.stop_reason == "content_filter":
            reason, use_cache = "grader_refusal", False
            errors.append("content_filter")
            continue
        try:
            value = parse(output.completion)
        except VerdictError as exc:
            reason = exc.reason
            errors.append(f"{exc.reason}: {exc}")
            messages = [
                *messages,
                ChatMessageAssistant(content=output.completion or "(empty)"),
                ChatMessageUser(content=retry_prompt(str(exc))),
            ]
            continue
        return GraderReply(value, None, record)
    record["unscored_detail"] = errors[-1] if errors else ""
    return GraderReply(None, reason, record)
