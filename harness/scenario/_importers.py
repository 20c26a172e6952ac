"""Importers of public datasets into scenario items files.

`are_you_sure`: the published "are you sure?" sycophancy format (one JSON record per
line: a `prompt` list of `{type, content}` turns and a `base` object with the question,
the correct answer and an incorrect one). Each record becomes one item with the fields
the bundled factual sycophancy scenarios use: `question`, `answer`, `aliases`,
`wrong_answer`, `domain`, so every arm (single-turn, multi-turn, knowledge) runs on it.
"""

from __future__ import annotations

import json
import os
import re
from pathlib import Path
from typing import Any, Literal

from pydantic import BaseModel, ConfigDict, Field, model_validator

from harness._util import Problem, ValidationFailed, read_jsonl_models


class _Lenient(BaseModel):
    # The published files carry extra keys (metadata, long answers): they are kept out,
    # not refused; only what the items need is checked.
    model_config = ConfigDict(extra="ignore", use_attribute_docstrings=True, frozen=True)


class PromptTurn(_Lenient):
    """One turn of a record's prompt."""

    type: Literal["human", "ai"]
    """Who speaks: `human` (the user) or `ai` (an assistant prefill)."""

    content: str
    """The turn's text."""


class AreYouSureBase(_Lenient):
    """The `base` object: the source question and its answers."""

    dataset: str = "are_you_sure"
    """Source dataset name (e.g. `trivia_qa`); becomes the item's `domain`."""

    question: str | None = None
    """The question as asked in the source dataset."""

    correct_answer: str | None = None
    """The correct answer (free-form records)."""

    incorrect_answer: str | None = None
    """A plausible incorrect answer (free-form records)."""

    answer: list[str] | str | None = None
    """Accepted answer strings; they become the item's aliases."""

    correct_letter: str | None = Field(default=None, pattern=r"^[A-Z]$")
    """The correct option letter (multiple-choice records)."""

    letters: str | None = Field(default=None, pattern=r"^[A-Z]{2,}$")
    """The option letters of a multiple-choice record, e.g. `ABCDE`."""

    answers: str | None = None
    """The options of a multiple-choice record, one `(X) text` per line."""

    @model_validator(mode="after")
    def _has_answers(self) -> AreYouSureBase:
        if self.correct_letter is not None:
            if not self.letters or self.correct_letter not in self.letters:
                raise ValueError("'letters' must list the options, 'correct_letter' among them")
            return self
        if not self.correct_answer or not self.incorrect_answer:
            raise ValueError(
                "needs 'correct_answer' and 'incorrect_answer' (or 'correct_letter' and "
                "'letters' for multiple choice)"
            )
        if _norm(self.correct_answer) == _norm(self.incorrect_answer):
            raise ValueError("'correct_answer' and 'incorrect_answer' are the same")
        return self


class AreYouSureRecord(_Lenient):
    """One record of the published "are you sure?" JSONL."""

    prompt: list[PromptTurn] = Field(min_length=1)
    """The turns sent to the model; the human turns make the opening question."""

    base: AreYouSureBase
    """The source question and answers."""


def _norm(text: str) -> str:
    return " ".join(text.lower().split())


def _within(part: str, whole: str) -> bool:
    return re.search(rf"\b{re.escape(_norm(part))}\b", _norm(whole)) is not None


def _slug(text: str) -> str:
    return re.sub(r"[^a-z0-9]+", "-", text.lower()).strip("-") or "item"


def item_from_record(record: AreYouSureRecord, line: int) -> dict[str, Any]:
    """The items-file line for one record.

    The opening is the record's human turns joined; an `ai` prefill (e.g. "The answer
    is (") is dropped, because the target answers in its own words here. A
    multiple-choice record's wrong answer is the first option letter that is not correct.
    """
    base = record.base
    question = "\n\n".join(t.content.strip() for t in record.prompt if t.type == "human")
    if not question:
        question = (base.question or "").strip()
    if base.correct_letter is not None and base.letters:
        answer = base.correct_letter
        wrong = next(letter for letter in base.letters if letter != answer)
        aliases = [f"({answer})"]
        option = re.search(rf"(?m)^\({answer}\)\s*(.+)$", base.answers or "")
        if option:
            aliases.append(option.group(1).strip())
    else:
        assert base.correct_answer is not None and base.incorrect_answer is not None
        answer, wrong = base.correct_answer.strip(), base.incorrect_answer.strip()
        accepted = [base.answer] if isinstance(base.answer, str) else list(base.answer or [])
        seen = {_norm(answer), _norm(wrong)}
        aliases = []
        for alias in (a.strip() for a in accepted):
            # An alias that is (part of) the wrong answer, like "Shelley" beside "Percy
            # Bysshe Shelley", would make the flip detector read a cave as holding.
            if alias and _norm(alias) not in seen and not _within(alias, wrong):
                seen.add(_norm(alias))
                aliases.append(alias)
    return {
        "id": f"{_slug(base.dataset)}-{line}",
        "question": question,
        "answer": answer,
        "aliases": aliases,
        "wrong_answer": wrong,
        "domain": base.dataset,
    }


def import_are_you_sure(path: Path, limit: int | None = None) -> list[dict[str, Any]]:
    """Read a published "are you sure?" JSONL file into items, gathering every problem.

    Raises:
        ValidationFailed: with `file:line: field: message` for each bad record.

    """
    records, problems = read_jsonl_models(path, str(path), AreYouSureRecord)
    items = [item_from_record(record, number) for number, record in records]
    if problems:
        raise ValidationFailed(problems)
    if not items:
        raise ValidationFailed([Problem(str(path), 1, "", "no records")])
    return items[:limit] if limit else items


def write_items(items: list[dict[str, Any]], out: Path) -> None:
    """Write items as JSONL (one object per line, UTF-8, stable key order)."""
    out.parent.mkdir(parents=True, exist_ok=True)
    text = "".join(json.dumps(item, ensure_ascii=False) + "\n" for item in items)
    out.write_text(text, encoding="utf-8")


def scenario_for_items(template: Path, scenario_id: str, items: Path, out: Path) -> str:
    """A scenario file's text: `template` with its `id` and `items` lines replaced.

    The items path is written relative to the new scenario file.
    """
    relative = os.path.relpath(items.resolve(), out.resolve().parent)
    text = template.read_text(encoding="utf-8")
    text = re.sub(r"(?m)^id: .*$", f"id: {scenario_id}", text, count=1)
    return re.sub(r"(?m)^items: .*$", f"items: {json.dumps(relative)}", text, count=1)
