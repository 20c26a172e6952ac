"""The persona driver: the attacker writes each user turn, and resisted turns are rolled back."""

from __future__ import annotations

from dataclasses import dataclass
from pathlib import Path
from typing import Any

from inspect_ai.log import transcript
from inspect_ai.model import ChatMessage, Model
from inspect_ai.solver import TaskState

from harness._util import ATTACKER_NOTES_STORE_KEY
from harness.scenario import (
    PersonaSpec,
    allowed_tactics,
    attacker_variables,
    choose_tactic,
    render_tactic,
)
from harness.solver._attacker import attacker_turn
from harness.solver._conversation import Conversation, Driver, Stop, UserTurn
from harness.solver._resistance import ResistanceCheck, check_resistance


@dataclass
class PersonaDriver(Driver):
    """User turns the attacker writes as the sample's persona, one tactic at a time.

    With backtracking, a message the target resisted is rolled back and the turn
    tried again with another tactic.
    """

    attacker: Model
    persona: PersonaSpec
    scenario_id: str
    scenario_description: str
    max_turns: int
    near: Path | None
    """The scenario's folder, where its own tactics and templates are looked for first."""
    seed: int | None
    max_backtracks: int

    @classmethod
    def from_metadata(cls, metadata: dict[str, Any], attacker: Model) -> PersonaDriver:
        """The driver of a sample whose metadata names a persona."""
        persona = PersonaSpec(**metadata["persona"])
        backtracking = persona.backtracking
        return cls(
            attacker=attacker,
            persona=persona,
            scenario_id=metadata["scenario_id"],
            scenario_description=metadata.get("scenario_description", ""),
            max_turns=metadata["max_turns"],
            near=Path(metadata["scenario_dir"]) if metadata.get("scenario_dir") else None,
            seed=metadata.get("seed"),
            max_backtracks=int(backtracking["max_backtracks"]) if backtracking else 0,
        )

    def _allowed(self, user_turn: int) -> list[str]:
        return allowed_tactics(self.persona.tactics, self.persona.schedule, user_turn)

    def _tactic_prompt(self, name: str, user_turn: int, used: list[str]) -> dict[str, str]:
        variables = attacker_variables(
            self.persona,
            self.scenario_id,
            self.scenario_description,
            user_turn - 1,
            self.max_turns - 1,
            used,
        )
        return render_tactic(name, self.near, variables)

    async def next_turn(self, state: TaskState, conversation: Conversation) -> UserTurn | Stop:
        """Ask the attacker for the next user message, with a tactic not yet rejected here."""
        user_turn = conversation.user_turns + 1
        tried_here = conversation.failed.get(user_turn, [])
        used = conversation.tactics_used
        tactic = choose_tactic(self._allowed(user_turn), used, [a["tactic"] for a in tried_here])
        prompt = None if tactic is None else self._tactic_prompt(tactic, user_turn, used)
        conversation.attacker_calls += 1
        reply = await attacker_turn(
            self.attacker,
            state,
            self.persona,
            user_turn,
            used,
            self.seed,
            tactic=prompt,
            failed_attempts=tried_here,
            notes=conversation.attacker_notes,
        )
        if reply.notes is not None:
            conversation.attacker_notes = reply.notes
            conversation.notes.append({"user_turn": user_turn, "notes": reply.notes})
            state.store.set(ATTACKER_NOTES_STORE_KEY, reply.notes)
        if reply.text is None:
            reason = "attacker_error" if "attacker_error" in reply.info else "attacker_ended"
            return Stop(reason, reply.info)
        info = {"driver": "persona", "tactic": tactic, "attempt": len(tried_here) + 1}
        if tactic:
            used.append(tactic)
        return UserTurn(reply.text, {**info, **reply.info})

    async def rolled_back(self, state: TaskState, conversation: Conversation) -> bool:
        """Roll the last exchange back when the target resisted a persona-written message.

        Only while backtracks remain and another tactic is left to try at that turn.
        The target never sees the rolled-back messages again; they are kept in the
        dialogue record (the sample's store) and as an info event in the transcript,
        so `inspect view` shows every branch.
        """
        backtracking = self.persona.backtracking
        if backtracking is None or conversation.backtracks >= self.max_backtracks:
            return False
        if not self._retryable(state.messages, conversation):
            return False
        user_message, reply = state.messages[-2], state.messages[-1]
        opening = next((m.text for m in state.messages if m.role == "user"), "")
        check = await check_resistance(
            backtracking, state.metadata, opening, user_message.text, reply.text
        )
        conversation.resistance_checks += 1
        user_message.metadata = {
            **(user_message.metadata or {}),
            "resisted": check.resisted,
            "check": check.detail,
        }
        if not check.resisted:
            return False
        _roll_back(state, conversation, check)
        return True

    def _retryable(self, messages: list[ChatMessage], conversation: Conversation) -> bool:
        """Whether the last exchange answers a persona turn that another tactic could retry."""
        if len(messages) < 2:
            return False
        user_message, reply = messages[-2], messages[-1]
        user_info = user_message.metadata or {}
        if (
            user_message.role != "user"
            or reply.role != "assistant"
            or user_info.get("driver") != "persona"
        ):
            return False
        tactic = user_info.get("tactic")
        user_turn = conversation.user_turns
        tried = [a["tactic"] for a in conversation.failed.get(user_turn, [])] + [str(tactic)]
        used = conversation.tactics_used
        earlier = used[:-1] if used and tactic else used
        return choose_tactic(self._allowed(user_turn), earlier, tried) is not None


def _roll_back(state: TaskState, conversation: Conversation, check: ResistanceCheck) -> None:
    """Take the last exchange off the conversation, keeping it as a branch."""
    user_message, reply = state.messages[-2], state.messages[-1]
    tactic = (user_message.metadata or {}).get("tactic")
    user_turn = conversation.user_turns
    branch = {
        "user_turn": user_turn,
        "tactic": tactic,
        "user": user_message.text,
        "assistant": reply.text,
        "check": check.detail,
    }
    conversation.branches.append(branch)
    conversation.backtracks += 1
    transcript().info({"rolled_back": branch}, source="harness/backtracking")
    conversation.failed.setdefault(user_turn, []).append(
        {"tactic": str(tactic), "message": user_message.text}
    )
    del state.messages[-2:]
    if tactic and conversation.tactics_used:
        conversation.tactics_used.pop()
