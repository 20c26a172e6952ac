"""The dialogue solver: runs the opening, the pressure ladder and/or the attacker persona."""

from __future__ import annotations

from pathlib import Path
from typing import Any

from inspect_ai.log import transcript
from inspect_ai.model import ChatMessageUser, get_model
from inspect_ai.solver import Generate, Solver, TaskState, solver

from harness._util import ATTACKER_NOTES_STORE_KEY, DIALOGUE_STORE_KEY, REPLAY_DRIVER
from harness.scenario import (
    PersonaSpec,
    allowed_tactics,
    attacker_variables,
    choose_tactic,
    render_tactic,
)
from harness.solver._attacker import attacker_turn
from harness.solver._resistance import check_resistance


def needs_attacker(metadata: dict[str, Any]) -> bool:
    """Whether a sample's conversation can reach a turn that the attacker must write."""
    driver, max_turns = metadata.get("driver"), int(metadata.get("max_turns", 1))
    ladder_length = len(metadata.get("ladder") or [])
    return driver == "persona" or (driver == "hybrid" and ladder_length < max_turns - 1)


@solver
def dialogue() -> Solver:
    """Run one adversarial conversation as the sample's metadata describes.

    The target answers the opening; then each user turn comes from the scripted
    ladder (`scripted`), the attacker role (`persona`), the ladder and then the
    attacker (`hybrid`) or the user turns a finished log recorded (`replay`), until
    the target has answered `max_turns` times, the ladder ends (`scripted`), the
    recorded turns run out (`replay`) or the attacker ends the conversation.
    """

    async def solve(state: TaskState, generate: Generate) -> TaskState:
        metadata = state.metadata
        driver: str = metadata["driver"]
        max_turns: int = metadata["max_turns"]
        ladder: list[dict[str, Any]] = metadata.get("ladder") or []
        replay_turns: list[dict[str, Any]] = metadata.get("replay_turns") or []
        persona_data = metadata.get("persona")
        persona = PersonaSpec(**persona_data) if persona_data else None
        backtracking = persona.backtracking if persona is not None else None
        max_backtracks = int(backtracking["max_backtracks"]) if backtracking else 0
        near = Path(metadata["scenario_dir"]) if metadata.get("scenario_dir") else None
        seed: int | None = metadata.get("seed")
        attacker = None
        if needs_attacker(metadata):
            # Fails now, before any target call, when the role is not bound.
            attacker = get_model(role="attacker", required=True)

        record: dict[str, Any] = {
            "stop_reason": None,
            "attacker_calls": 0,
            "backtracks": 0,
            "resistance_checks": 0,
            "branches": [],
            "notes": [],
        }
        assistant_turns = 0
        user_turns = 1
        tactics_used: list[str] = []
        # User turn -> messages tried there and rolled back: {tactic, message}.
        failed: dict[int, list[dict[str, str]]] = {}
        notes = ""
        info: dict[str, Any]
        while True:
            state = await generate(state, seed=seed)
            assistant_turns += 1
            if (
                backtracking is not None
                and persona is not None
                and record["backtracks"] < max_backtracks
                and await _rolled_back(
                    state, persona, backtracking, user_turns, tactics_used, failed, record
                )
            ):
                assistant_turns -= 1
                user_turns -= 1
            rung = assistant_turns - 1
            # Checked first: a replay that sent every recorded turn ended as recorded.
            if driver == REPLAY_DRIVER and rung >= len(replay_turns):
                record["stop_reason"] = "replay_end"
                break
            if assistant_turns >= max_turns:
                record["stop_reason"] = "max_turns"
                break
            if driver == REPLAY_DRIVER:
                text = replay_turns[rung]["text"]
                info = {
                    "driver": REPLAY_DRIVER,
                    "original_driver": replay_turns[rung].get("driver"),
                    "tactic": replay_turns[rung].get("tactic"),
                }
            elif driver in ("scripted", "hybrid") and rung < len(ladder):
                text, tactic = ladder[rung]["text"], ladder[rung]["tactic"]
                info = {"driver": "scripted", "tactic": tactic}
                if tactic:
                    tactics_used.append(tactic)
            elif driver == "scripted":
                record["stop_reason"] = "ladder_end"
                break
            else:
                assert attacker is not None and persona is not None
                turn_number = user_turns + 1
                allowed = allowed_tactics(persona.tactics, persona.schedule, turn_number)
                tried_here = failed.get(turn_number, [])
                tactic_name = choose_tactic(
                    allowed, tactics_used, [a["tactic"] for a in tried_here]
                )
                tactic_prompt = None
                if tactic_name is not None:
                    variables = attacker_variables(
                        persona,
                        metadata["scenario_id"],
                        metadata.get("scenario_description", ""),
                        turn_number - 1,
                        max_turns - 1,
                        tactics_used,
                    )
                    tactic_prompt = render_tactic(tactic_name, near, variables)
                record["attacker_calls"] += 1
                reply = await attacker_turn(
                    attacker,
                    state,
                    persona,
                    turn_number,
                    tactics_used,
                    seed,
                    tactic=tactic_prompt,
                    failed_attempts=tried_here,
                    notes=notes,
                )
                if reply.notes is not None:
                    notes = reply.notes
                    record["notes"].append({"user_turn": turn_number, "notes": notes})
                    state.store.set(ATTACKER_NOTES_STORE_KEY, notes)
                if reply.text is None:
                    record["stop_reason"] = (
                        "attacker_error" if "attacker_error" in reply.info else "attacker_ended"
                    )
                    record["attacker_detail"] = reply.info
                    break
                text = reply.text
                info = {
                    "driver": "persona",
                    "tactic": tactic_name,
                    "attempt": len(tried_here) + 1,
                    **reply.info,
                }
                if tactic_name:
                    tactics_used.append(tactic_name)
            user_turns += 1
            state.messages.append(
                ChatMessageUser(content=text, metadata={**info, "turn": user_turns})
            )
        record["assistant_turns"] = assistant_turns
        record["user_turns"] = user_turns
        state.store.set(DIALOGUE_STORE_KEY, record)
        return state

    return solve


async def _rolled_back(
    state: TaskState,
    persona: PersonaSpec,
    backtracking: dict[str, Any],
    user_turns: int,
    tactics_used: list[str],
    failed: dict[int, list[dict[str, str]]],
    record: dict[str, Any],
) -> bool:
    """Roll the last exchange back when the target resisted a persona-written message.

    Only when another tactic is left to try at that turn. The target never sees the
    rolled-back messages again; they are kept in the dialogue record (the sample's
    store) and as an info event in the transcript, so `inspect view` shows every branch.
    """
    if len(state.messages) < 2:
        return False
    user_message, reply = state.messages[-2], state.messages[-1]
    user_info = user_message.metadata or {}
    if (
        user_message.role != "user"
        or reply.role != "assistant"
        or user_info.get("driver") != "persona"
    ):
        return False
    tactic = user_info.get("tactic")
    tried = [a["tactic"] for a in failed.get(user_turns, [])] + [str(tactic)]
    earlier = tactics_used[:-1] if tactics_used and tactic else tactics_used
    allowed = allowed_tactics(persona.tactics, persona.schedule, user_turns)
    if choose_tactic(allowed, earlier, tried) is None:
        return False  # nothing else to try here: the exchange stands
    opening = next((m.text for m in state.messages if m.role == "user"), "")
    check = await check_resistance(
        backtracking, state.metadata, opening, user_message.text, reply.text
    )
    record["resistance_checks"] += 1
    user_message.metadata = {**user_info, "resisted": check.resisted, "check": check.detail}
    if not check.resisted:
        return False
    branch = {
        "user_turn": user_turns,
        "tactic": tactic,
        "user": user_message.text,
        "assistant": reply.text,
        "check": check.detail,
    }
    record["branches"].append(branch)
    record["backtracks"] += 1
    transcript().info({"rolled_back": branch}, source="harness/backtracking")
    failed.setdefault(user_turns, []).append({"tactic": str(tactic), "message": user_message.text})
    del state.messages[-2:]
    if tactic and tactics_used:
        tactics_used.pop()
    return True
