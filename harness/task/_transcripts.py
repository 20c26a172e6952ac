"""Transcripts produced anywhere (JSONL) as inspect samples, and the `harness/grade` task.

One line per conversation: `{"id", "messages": [{"role", "content"}...], "expect":
{"correct", "wrong"}}`, plus optional fields (see `TranscriptRecord`). Calibration sets
use the same format with human labels.
"""

from __future__ import annotations

from pathlib import Path
from typing import Any, Literal

from inspect_ai import Task, task
from inspect_ai.dataset import MemoryDataset, Sample
from inspect_ai.model import (
    ChatMessage,
    ChatMessageAssistant,
    ChatMessageSystem,
    ChatMessageUser,
)
from inspect_ai.scorer import Scorer
from inspect_ai.solver import Generate, Solver, TaskState, solver
from pydantic import Field, model_validator

from harness._util import Problem, ValidationFailed, display_path, read_jsonl_models
from harness.scenario import StrictModel
from harness.scorer import flip_detector, rubric_grader
from harness.task._tasks import require_roles

Method = Literal["flip", "rubric", "both"]
"""How `harness grade` judges: the flip detector, the rubric grader, or both."""

METHODS: tuple[Method, ...] = ("flip", "rubric", "both")

Label = Literal["held", "caved", "caved_late", "hedged", "updated", "never_correct"]
"""Trajectory labels shared by the rubric grader, the flip detector and calibration sets."""


class Message(StrictModel):
    """One chat message."""

    role: Literal["system", "user", "assistant"]
    """Who wrote it."""

    content: str
    """Its text."""


class ExpectRecord(StrictModel):
    """Expected answers of a transcript, for the flip detector."""

    correct: str = Field(min_length=1)
    """The correct answer the assistant should hold."""

    wrong: str | None = None
    """The wrong answer the user pushes toward."""

    correct_aliases: list[str] = Field(default_factory=list)
    """Other ways of writing the correct answer."""

    wrong_aliases: list[str] = Field(default_factory=list)
    """Other ways of writing the wrong answer."""


class TranscriptRecord(StrictModel):
    """One line of a transcripts file (input of `harness grade`, or a calibration set)."""

    id: str = Field(min_length=1)
    """Unique id within the file."""

    messages: list[Message] = Field(min_length=2)
    """The conversation: an optional system message, then user and assistant turns."""

    expect: ExpectRecord | None = None
    """Expected answers; needed by the flip detector, optional for the rubric grader."""

    scenario: str = ""
    """What the user is pushing for, shown to the grader as the scenario description."""

    pressured_opening: bool = False
    """The first user message already carries the pressure (a wrong first answer is a cave)."""

    category: str | None = None
    """Calibration sets: the coverage bucket of this transcript."""

    label: Label | None = None
    """Calibration sets: the human label of the trajectory."""

    violation: bool | None = None
    """Calibration sets: whether the trait was violated."""

    turn_of_flip: int | None = Field(default=None, ge=1)
    """Calibration sets: the first violating assistant turn, from 1."""

    n_flips: int | None = Field(default=None, ge=0)
    """Calibration sets: stance changes between held and violating."""

    note: str | None = None
    """Free text: why the label is what it is."""

    @model_validator(mode="after")
    def _has_assistant_turns(self) -> TranscriptRecord:
        if not any(m.role == "assistant" for m in self.messages):
            raise ValueError("messages need at least one assistant turn")
        return self


def load_transcripts(path: Path) -> list[tuple[int, TranscriptRecord]]:
    """Read a transcripts JSONL file, gathering every problem as `file:line: field: message`.

    Raises:
        ValidationFailed: unreadable file, bad JSON, schema errors or duplicate ids.

    """
    file = display_path(path)
    records: list[tuple[int, TranscriptRecord]] = []
    seen: dict[str, int] = {}
    validated, problems = read_jsonl_models(path, file, TranscriptRecord)
    for number, record in validated:
        if record.id in seen:
            problems.append(
                Problem(file, number, "id", f"duplicate id '{record.id}' (line {seen[record.id]})")
            )
            continue
        seen[record.id] = number
        records.append((number, record))
    if not records and not problems:
        problems.append(Problem(file, 1, "", "no transcripts in the file"))
    if problems:
        raise ValidationFailed(problems)
    return records


_MESSAGE_TYPES: dict[str, type[ChatMessageSystem | ChatMessageUser | ChatMessageAssistant]] = {
    "system": ChatMessageSystem,
    "user": ChatMessageUser,
    "assistant": ChatMessageAssistant,
}


def transcript_sample(record: TranscriptRecord, trait: str, source: str) -> Sample:
    """A sample whose input is the finished conversation."""
    messages: list[ChatMessage] = [
        _MESSAGE_TYPES[m.role](content=m.content) for m in record.messages
    ]
    metadata: dict[str, Any] = {
        "trait": trait,
        "scenario_id": source,
        "scenario_description": record.scenario,
        "expect": record.expect.model_dump() if record.expect else None,
        "item": None,
        "pressured_opening": record.pressured_opening,
    }
    return Sample(input=messages, id=record.id, metadata=metadata)


@solver
def keep_transcript() -> Solver:
    """The conversation is already complete: nothing is generated."""

    async def solve(state: TaskState, generate: Generate) -> TaskState:
        return state

    return solve


def scorers_for(method: Method, graders: str | None) -> list[Scorer]:
    """The scorers a method uses (rubric first)."""
    chosen: list[Scorer] = []
    if method in ("rubric", "both"):
        chosen.append(rubric_grader(graders=graders))
    if method in ("flip", "both"):
        chosen.append(flip_detector(graders=graders))
    return chosen


@task
def grade(
    transcripts: str,
    trait: str,
    method: str = "rubric",
    graders: str | None = None,
) -> Task:
    """Grade finished conversations from a JSONL file; no target model is called.

    Args:
        transcripts: JSONL file, one conversation per line.
        trait: The trait whose rubric grades them.
        method: `flip`, `rubric` or `both`.
        graders: Folder with rubrics and grader templates (default: bundled).

    """
    if method not in METHODS:
        raise ValueError(f"method must be one of {', '.join(METHODS)}, not '{method}'")
    path = Path(transcripts)
    records = load_transcripts(path)
    if method != "rubric":
        missing = [
            Problem(display_path(path), n, "expect", "the flip detector needs expected answers")
            for n, r in records
            if r.expect is None
        ]
        if missing:
            raise ValidationFailed(missing)
    source = f"transcripts/{path.stem}"
    samples = [transcript_sample(r, trait, source) for _, r in records]
    return Task(
        dataset=MemoryDataset(samples, name=path.stem),
        setup=require_roles("grader") if method != "flip" else None,
        solver=keep_transcript(),
        scorer=scorers_for(method, graders),
        metadata={"arm": "grade", "method": method, "transcripts": str(path)},
    )
