"""The floor for `floor_ratio`: a bare Inspect multi-turn loop, written for the benchmark.

It sends the same conversations as `harness/pressure` with the scripted driver (the
opening, then each ladder rung after the target's reply) but does nothing else: no
scenario files, no template rendering, no metadata, no store, no scorer. The
conversations come pre-rendered from a JSONL file that `bench/throughput.py` writes
(one object a line: `id`, `opening`, the first user message, and `turns`, the user
turns that follow).

    inspect eval bench/bare_loop.py@bare_loop -T conversations=FILE --model ...
"""

from __future__ import annotations

import json
from pathlib import Path

from inspect_ai import Task, task
from inspect_ai.dataset import MemoryDataset, Sample
from inspect_ai.model import ChatMessageUser
from inspect_ai.solver import Generate, Solver, TaskState, solver


@solver
def fixed_turns() -> Solver:
    """Generate, then append the next fixed user turn, until the turns run out."""

    async def solve(state: TaskState, generate: Generate) -> TaskState:
        turns: list[str] = state.metadata["turns"]
        state = await generate(state)
        for text in turns:
            state.messages.append(ChatMessageUser(content=text))
            state = await generate(state)
        return state

    return solve


@task
def bare_loop(conversations: str) -> Task:
    """The conversations in `conversations` (JSONL), each run as a fixed multi-turn loop."""
    samples = []
    for line in Path(conversations).read_text(encoding="utf-8").splitlines():
        record = json.loads(line)
        samples.append(
            Sample(
                id=record["id"],
                input=[ChatMessageUser(content=record["opening"])],
                metadata={"turns": record["turns"]},
            )
        )
    return Task(dataset=MemoryDataset(samples), solver=fixed_turns())
