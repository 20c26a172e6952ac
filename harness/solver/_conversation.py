"""The state of one dialogue and the protocol its drivers follow to write the user turns."""

from __future__ import annotations

from dataclasses import dataclass, field
from typing import Any, Protocol

from inspect_ai.solver import TaskState


@dataclass
class Conversation:
    """Where one dialogue stands: its counts, its rolled-back branches, the attacker's memory.

    `record()` is what the sample's store keeps under `harness:dialogue`.
    """

    assistant_turns: int = 0
    """Target replies that stand (rolled-back ones do not count)."""
    user_turns: int = 1
    """User messages that stand, the opening included."""
    stop_reason: str | None = None
    attacker_detail: dict[str, Any] | None = None
    """The attacker's reply info when it ended the conversation or failed."""
    attacker_calls: int = 0
    backtracks: int = 0
    resistance_checks: int = 0
    branches: list[dict[str, Any]] = field(default_factory=list)
    """Rolled-back exchanges: `{user_turn, tactic, user, assistant, check}`."""
    notes: list[dict[str, Any]] = field(default_factory=list)
    """A planning attacker's notes each time they changed: `{user_turn, notes}`."""
    attacker_notes: str = ""
    """A planning attacker's latest notes, shown to it at its next turn."""
    tactics_used: list[str] = field(default_factory=list)
    """Tactics of the standing user turns, scripted and persona-written, in order."""
    failed: dict[int, list[dict[str, str]]] = field(default_factory=dict)
    """User turn -> messages tried there and rolled back: `{tactic, message}`."""

    @property
    def rung(self) -> int:
        """Index of the next scripted or replayed turn: the target's standing replies less one."""
        return self.assistant_turns - 1

    def stop(self, stop: Stop) -> None:
        """End the conversation for `stop`'s reason."""
        self.stop_reason = stop.reason
        if stop.detail is not None:
            self.attacker_detail = stop.detail

    def record(self) -> dict[str, Any]:
        """The dialogue record: keys, order and shapes that logs (old ones too) already hold."""
        record: dict[str, Any] = {
            "stop_reason": self.stop_reason,
            "attacker_calls": self.attacker_calls,
            "backtracks": self.backtracks,
            "resistance_checks": self.resistance_checks,
            "branches": self.branches,
            "notes": self.notes,
        }
        # Present only when the attacker ended the conversation or failed.
        if self.attacker_detail is not None:
            record["attacker_detail"] = self.attacker_detail
        record["assistant_turns"] = self.assistant_turns
        record["user_turns"] = self.user_turns
        return record


@dataclass(frozen=True)
class UserTurn:
    """The next user message and the metadata it carries (its turn number is added on sending)."""

    text: str
    info: dict[str, Any]


@dataclass(frozen=True)
class Stop:
    """Why the conversation stops (`Conversation.stop_reason`), with the attacker's detail."""

    reason: str
    detail: dict[str, Any] | None = None


class Driver(Protocol):
    """Where a dialogue's user turns come from: the ladder, the attacker or a replayed log."""

    def ended(self, conversation: Conversation) -> Stop | None:
        """A stop that comes before the turn budget is checked; None to go on."""
        return None

    async def rolled_back(self, state: TaskState, conversation: Conversation) -> bool:
        """Whether the last exchange was rolled back (and taken off `state.messages`)."""
        return False

    async def next_turn(self, state: TaskState, conversation: Conversation) -> UserTurn | Stop:
        """The next user message, or why the conversation stops."""
        ...
