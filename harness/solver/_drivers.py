"""The scripted, replay and hybrid drivers, and the choice of a sample's driver."""

from __future__ import annotations

from dataclasses import dataclass
from typing import Any

from inspect_ai.model import get_model
from inspect_ai.solver import TaskState

from harness._util import REPLAY_DRIVER
from harness.solver._conversation import Conversation, Driver, Stop, UserTurn
from harness.solver._persona import PersonaDriver


def needs_attacker(metadata: dict[str, Any]) -> bool:
    """Whether a sample's conversation can reach a turn that the attacker must write."""
    driver, max_turns = metadata.get("driver"), int(metadata.get("max_turns", 1))
    ladder_length = len(metadata.get("ladder") or [])
    return driver == "persona" or (driver == "hybrid" and ladder_length < max_turns - 1)


@dataclass
class ScriptedDriver(Driver):
    """User turns from the scenario's pressure ladder; the conversation stops where it ends."""

    ladder: list[dict[str, Any]]
    """Rungs `{text, tactic}`, the turns after the opening."""

    def has_turn(self, conversation: Conversation) -> bool:
        """Whether a rung is left for the next user turn."""
        return conversation.rung < len(self.ladder)

    async def next_turn(self, state: TaskState, conversation: Conversation) -> UserTurn | Stop:
        """The next rung of the ladder, or `ladder_end`."""
        if not self.has_turn(conversation):
            return Stop("ladder_end")
        rung = self.ladder[conversation.rung]
        text, tactic = rung["text"], rung["tactic"]
        if tactic:
            conversation.tactics_used.append(tactic)
        return UserTurn(text, {"driver": "scripted", "tactic": tactic})


@dataclass
class ReplayDriver(Driver):
    """The user turns a finished log recorded, sent again; the conversation ends where it did."""

    turns: list[dict[str, Any]]
    """Recorded turns `{text, driver, tactic}` after the opening."""

    def ended(self, conversation: Conversation) -> Stop | None:
        """`replay_end` once every recorded turn was sent, whatever the turn budget says."""
        return Stop("replay_end") if conversation.rung >= len(self.turns) else None

    async def next_turn(self, state: TaskState, conversation: Conversation) -> UserTurn | Stop:
        """The next recorded turn, marked with the driver that first wrote it."""
        turn = self.turns[conversation.rung]
        info = {
            "driver": REPLAY_DRIVER,
            "original_driver": turn.get("driver"),
            "tactic": turn.get("tactic"),
        }
        return UserTurn(turn["text"], info)


@dataclass
class HybridDriver(Driver):
    """The ladder first, then the attacker persona once the ladder runs out."""

    ladder: ScriptedDriver
    persona: PersonaDriver | None
    """None when the turn budget ends within the ladder (the attacker is never needed)."""

    async def rolled_back(self, state: TaskState, conversation: Conversation) -> bool:
        """Backtracking, which only rolls back the persona's turns."""
        return self.persona is not None and await self.persona.rolled_back(state, conversation)

    async def next_turn(self, state: TaskState, conversation: Conversation) -> UserTurn | Stop:
        """The next rung, else the attacker's message."""
        if self.ladder.has_turn(conversation):
            return await self.ladder.next_turn(state, conversation)
        assert self.persona is not None, "the ladder ran out before the turn budget"
        return await self.persona.next_turn(state, conversation)


def make_driver(metadata: dict[str, Any]) -> Driver:
    """The driver a sample's metadata names (`scripted`, `persona`, `hybrid`, `replay`).

    Raises:
        ValueError: an unknown driver.

    """
    driver = metadata["driver"]
    if driver == REPLAY_DRIVER:
        return ReplayDriver(metadata.get("replay_turns") or [])
    ladder = ScriptedDriver(metadata.get("ladder") or [])
    if driver == "scripted":
        return ladder
    persona = None
    if needs_attacker(metadata):
        # Fails now, before any target call, when the role is not bound.
        attacker = get_model(role="attacker", required=True)
        persona = PersonaDriver.from_metadata(metadata, attacker)
    if driver == "hybrid":
        return HybridDriver(ladder, persona)
    if driver == "persona" and persona is not None:
        return persona
    raise ValueError(f"unknown driver {driver!r}")
