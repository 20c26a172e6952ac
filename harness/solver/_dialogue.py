"""The dialogue solver: runs the opening, the pressure ladder and/or the attacker persona."""

from __future__ import annotations

from inspect_ai.model import ChatMessageUser
from inspect_ai.solver import Generate, Solver, TaskState, solver

from harness._util import DIALOGUE_STORE_KEY
from harness.solver._conversation import Conversation, Driver, Stop, UserTurn
from harness.solver._drivers import make_driver


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
        # Built before any target call, so an unbound attacker role fails first.
        driver = make_driver(metadata)
        max_turns: int = metadata["max_turns"]
        seed: int | None = metadata.get("seed")
        conversation = Conversation()
        while True:
            state = await generate(state, seed=seed)
            conversation.assistant_turns += 1
            if await driver.rolled_back(state, conversation):
                conversation.assistant_turns -= 1
                conversation.user_turns -= 1
            turn = await _next_turn(driver, state, conversation, max_turns)
            if isinstance(turn, Stop):
                conversation.stop(turn)
                break
            conversation.user_turns += 1
            info = {**turn.info, "turn": conversation.user_turns}
            state.messages.append(ChatMessageUser(content=turn.text, metadata=info))
        state.store.set(DIALOGUE_STORE_KEY, conversation.record())
        return state

    return solve


async def _next_turn(
    driver: Driver, state: TaskState, conversation: Conversation, max_turns: int
) -> UserTurn | Stop:
    """The next user turn, unless the driver or the turn budget ends the conversation."""
    # The driver's own end comes first: a replay that sent every recorded turn ended as recorded.
    ended = driver.ended(conversation)
    if ended is not None:
        return ended
    if conversation.assistant_turns >= max_turns:
        return Stop("max_turns")
    return await driver.next_turn(state, conversation)
