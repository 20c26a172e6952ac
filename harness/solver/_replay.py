"""Read the user turns of a finished `harness/pressure` log, to send them again to a new target.

Replaying the same user turns (scripted and persona-written alike) makes two checkpoints
differ only by the model, not by what the attacker happened to sample.
"""

from __future__ import annotations

from dataclasses import dataclass
from typing import Any

from inspect_ai.log import EvalLog, EvalSample, read_eval_log

from harness._util import DIALOGUE_STORE_KEY, REPLAY_DRIVER

PRESSURE_TASK = "pressure"


@dataclass(frozen=True)
class ReplayTurn:
    """One recorded user message after the opening."""

    text: str
    driver: str | None
    """The driver that first wrote it (`scripted`, `persona`), kept through replays of replays."""
    tactic: str | None
    turn: int | None


@dataclass(frozen=True)
class ReplayConversation:
    """What a replay needs from one recorded conversation (epoch 1)."""

    sample_id: str
    opening: str
    system_prompt: str | None
    """The scenario's own system prompt, without the run's target system prompt."""
    turns: tuple[ReplayTurn, ...]
    stop_reason: str | None


@dataclass(frozen=True)
class ReplayLog:
    """The recorded conversations of one pressure log, by sample id."""

    path: str
    eval_id: str
    run_id: str
    conversations: dict[str, ReplayConversation]

    def record(self) -> dict[str, str]:
        """Where the replayed turns came from, for task metadata."""
        return {"path": self.path, "eval_id": self.eval_id, "run_id": self.run_id}


def _is_pressure_log(log: EvalLog) -> bool:
    arm = (log.eval.metadata or {}).get("arm")
    return arm == PRESSURE_TASK or log.eval.task.rsplit("/", 1)[-1] == PRESSURE_TASK


def _scenario_system_prompt(text: str | None, target_system_prompt: str | None) -> str | None:
    """Strip the run's target system prompt (put before the scenario's own) off a system prompt."""
    if text is None or not target_system_prompt:
        return text
    if text == target_system_prompt:
        return None
    prefix = f"{target_system_prompt}\n\n"
    return text[len(prefix) :] if text.startswith(prefix) else text


def _turn(metadata: dict[str, Any], text: str) -> ReplayTurn:
    driver = metadata.get("driver")
    if driver == REPLAY_DRIVER:
        driver = metadata.get("original_driver")
    turn = metadata.get("turn")
    return ReplayTurn(
        text=text,
        driver=None if driver is None else str(driver),
        tactic=metadata.get("tactic"),
        turn=int(turn) if turn is not None else None,
    )


def _conversation(sample: EvalSample, target_system_prompt: str | None) -> ReplayConversation:
    users = [m for m in sample.messages if m.role == "user"]
    system = next((m.text for m in sample.messages if m.role == "system"), None)
    dialogue: dict[str, Any] = sample.store.get(DIALOGUE_STORE_KEY) or {}
    return ReplayConversation(
        sample_id=str(sample.id),
        opening=users[0].text if users else "",
        system_prompt=_scenario_system_prompt(system, target_system_prompt),
        turns=tuple(_turn(m.metadata or {}, m.text) for m in users[1:]),
        stop_reason=dialogue.get("stop_reason"),
    )


def read_replay_log(path: str) -> ReplayLog:
    """The recorded conversations (epoch 1) of a finished `harness/pressure` log.

    Args:
        path: An inspect log (`.eval` or `.json`) of `harness/pressure`.

    Raises:
        ValueError: when the file cannot be read, is not a `harness/pressure` log or
            holds no samples.

    """
    try:
        log = read_eval_log(path)
    except (OSError, ValueError) as exc:
        raise ValueError(f"replay log {path}: cannot be read: {exc}") from exc
    if not _is_pressure_log(log):
        raise ValueError(f"replay log {path}: not a harness/pressure log (task '{log.eval.task}')")
    target_system_prompt = (log.eval.metadata or {}).get("target_system_prompt")
    conversations = {
        str(sample.id): _conversation(sample, target_system_prompt)
        for sample in log.samples or []
        if sample.epoch == 1
    }
    if not conversations:
        raise ValueError(f"replay log {path}: has no samples")
    return ReplayLog(
        path=path, eval_id=log.eval.eval_id, run_id=log.eval.run_id, conversations=conversations
    )
