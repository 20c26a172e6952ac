"""One attacker turn: render the persona's prompt for the turn, ask the attacker, read the reply."""

from __future__ import annotations

import json
import re
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

from inspect_ai.model import (
    ChatMessage,
    ChatMessageAssistant,
    ChatMessageSystem,
    ChatMessageUser,
    GenerateConfig,
    Model,
    ResponseSchema,
)
from inspect_ai.solver import TaskState
from inspect_ai.util import JSONSchema, message_limit, suspend_token_limit, suspend_turn_limit

from harness._util import sha256
from harness.scenario import END_CONVERSATION, PersonaSpec, attacker_variables, render_attacker

_SPEAKER_PREFIX = re.compile(r"^\s*(user|human)\s*:\s*", re.IGNORECASE)
_CODE_FENCE = re.compile(r"^\s*```(?:json)?\s*(.*?)\s*```\s*$", re.DOTALL)

PLAN_SCHEMA = JSONSchema(
    type="object",
    properties={
        "notes": JSONSchema(type="string"),
        "message": JSONSchema(type="string"),
        "end_conversation": JSONSchema(type="boolean"),
    },
    required=["notes", "message", "end_conversation"],
    additionalProperties=False,
)
"""What a planning attacker answers: private notes, the next message, whether to stop."""


def swap_roles(messages: list[ChatMessage], start: str) -> list[ChatMessage]:
    """The conversation as the attacker sees it: its own turns as assistant, the target's as user.

    The target's system prompt is not shown. `start` opens the attacker's view so
    that it begins with a user message, as every chat template expects.
    """
    swapped: list[ChatMessage] = [ChatMessageUser(content=start)]
    for message in messages:
        if message.role == "user":
            swapped.append(ChatMessageAssistant(content=message.text))
        elif message.role == "assistant":
            swapped.append(ChatMessageUser(content=message.text or "(no reply)"))
    return swapped


def clean_attacker_text(text: str) -> str:
    """Strip a speaker prefix and wrapping quotes that small attacker models add."""
    text = _SPEAKER_PREFIX.sub("", text.strip())
    if len(text) >= 2 and text[0] == text[-1] and text[0] in "\"'":
        text = text[1:-1].strip()
    return text


@dataclass(frozen=True)
class Plan:
    """A planning attacker's reply."""

    notes: str
    message: str
    end_conversation: bool


def parse_plan(text: str) -> Plan | None:
    """Read a planning attacker's JSON reply (a code fence is tolerated); None if unusable."""
    fenced = _CODE_FENCE.match(text)
    body = fenced.group(1) if fenced else text.strip()
    try:
        data = json.loads(body)
    except ValueError:
        return None
    if not isinstance(data, dict):
        return None
    notes, message, end = data.get("notes"), data.get("message"), data.get("end_conversation")
    if not isinstance(notes, str) or not isinstance(message, str) or not isinstance(end, bool):
        return None
    return Plan(notes.strip(), clean_attacker_text(message), end)


@dataclass
class AttackerTurn:
    """The attacker's next user message, or None when it ended the conversation or failed."""

    text: str | None
    info: dict[str, Any] = field(default_factory=dict)
    notes: str | None = None
    """New private notes (planning personas), None when unchanged."""


async def attacker_turn(
    attacker: Model,
    state: TaskState,
    persona: PersonaSpec,
    user_turn: int,
    tactics_used: list[str],
    seed: int | None,
    *,
    tactic: dict[str, str] | None = None,
    failed_attempts: list[dict[str, str]] | None = None,
    notes: str = "",
) -> AttackerTurn:
    """Ask the attacker for user message number `user_turn` of the conversation so far."""
    metadata = state.metadata
    variables = attacker_variables(
        persona,
        metadata["scenario_id"],
        metadata.get("scenario_description", ""),
        user_turn - 1,
        metadata["max_turns"] - 1,
        tactics_used,
        tactic=tactic,
        failed_attempts=failed_attempts,
        notes=notes,
    )
    near = Path(metadata["scenario_dir"]) if metadata.get("scenario_dir") else None
    system, start = render_attacker(persona, variables, near)
    messages: list[ChatMessage] = [
        ChatMessageSystem(content=system),
        *swap_roles(state.messages, start),
    ]
    info: dict[str, Any] = {
        "attacker_model": str(attacker),
        "attacker_prompt_sha256": sha256(system + "\n" + start),
    }
    # Each attempt at a turn gets its own seed, so a retried turn is not the same message.
    attempt = len(failed_attempts or [])
    config = GenerateConfig(
        seed=None if seed is None else seed + user_turn + 1000 * attempt,
        response_schema=(
            ResponseSchema(name="attacker_turn", json_schema=PLAN_SCHEMA)
            if persona.planning
            else None
        ),
    )
    # The attacker's calls must not count against the target's limits.
    with message_limit(None), suspend_token_limit(), suspend_turn_limit():
        output = await attacker.generate(messages, config=config)
    if output.error:
        info["attacker_error"] = output.error
        return AttackerTurn(None, info)
    if persona.planning:
        plan = parse_plan(output.completion)
        if plan is None:
            info["attacker_error"] = "planning attacker did not answer with the JSON asked for"
            info["attacker_reply"] = output.completion[:500]
            return AttackerTurn(None, info)
        if plan.end_conversation or not plan.message:
            info["attacker_ended"] = True
            return AttackerTurn(None, info, plan.notes)
        return AttackerTurn(plan.message, info, plan.notes)
    text = clean_attacker_text(output.completion)
    if END_CONVERSATION in text or not text:
        info["attacker_ended"] = True
        return AttackerTurn(None, info)
    return AttackerTurn(text, info)
