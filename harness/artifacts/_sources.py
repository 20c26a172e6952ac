"""Read assistant messages, with provenance, from eval logs and SFT chat datasets.

A source is an inspect eval log file (`.eval`, `.json`), a folder of logs, or a JSONL
dataset (`.jsonl`) whose records are OpenAI-format chats (`{"messages": [...]}`) or
`{"prompt", "completion"}` pairs. Bad records are gathered as `file:line: field: message`
problems; nothing here raises anything else for bad input.
"""

from __future__ import annotations

import json
from collections.abc import Iterator, Sequence
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any, Literal

from inspect_ai.log import (
    EvalLog,
    EvalSample,
    list_eval_logs,
    read_eval_log,
    resolve_sample_attachments,
)

from harness._util import (
    COMPARISON_ARM,
    DIALOGUE_STORE_KEY,
    Problem,
    ValidationFailed,
    display_path,
)
from harness.log import arm_of, checkpoint_of, read_log_without_events

SourceKind = Literal["eval_logs", "jsonl"]
LOG_SUFFIXES = (".eval", ".json")
JSONL_SUFFIXES = (".jsonl",)
MAX_PROBLEMS_PER_FILE = 100
"""Bad records listed per file; the rest are counted in one closing problem."""
ATTACHMENT = "attachment://"
"""How inspect refers to content kept once in a sample's `attachments`."""
MULTI_TURN_ARMS = ("pressure", COMPARISON_ARM)
"""Arms whose samples are multi-turn conversations under pushback."""


@dataclass(frozen=True, slots=True)
class Message:
    """One assistant message and where it came from."""

    text: str
    source: str
    """Display path of the log or dataset file."""
    record: str
    """Eval sample (`task:id:epoch`) or dataset record (its `id`, else `line N`)."""
    turn: int
    """1-based index among the record's assistant messages."""
    line: int = 0
    """JSONL line of the record (0 for eval logs)."""
    dialogue_turn: int = 0
    """In a multi-turn conversation of the pressure arm: the user turn it answers (1 = the
    first reply, 2 and on = replies after pushback); 0 for every other message."""


@dataclass
class SourceInfo:
    """What one source contributed."""

    path: str
    kind: SourceKind
    records: int = 0
    """Eval samples (each counted once, newest) or dataset records read."""
    messages: int = 0
    """Assistant messages with text."""
    skipped_empty: int = 0
    """Assistant messages without text (e.g. tool calls only), not counted."""

    def as_dict(self) -> dict[str, Any]:
        """JSON-ready form."""
        return {
            "path": self.path,
            "kind": self.kind,
            "records": self.records,
            "messages": self.messages,
            "skipped_empty": self.skipped_empty,
        }


@dataclass
class Corpus:
    """Assistant messages read from some sources."""

    messages: list[Message] = field(default_factory=list)
    sources: list[SourceInfo] = field(default_factory=list)


def source_kind(path: Path) -> SourceKind | None:
    """Whether a path is eval logs (a folder or a log file) or a JSONL dataset; None if neither."""
    if path.is_dir() or path.suffix in LOG_SUFFIXES:
        return "eval_logs"
    if path.suffix in JSONL_SUFFIXES:
        return "jsonl"
    return None


# ---------------------------------------------------------------- eval logs


def _log_files(path: Path) -> list[str]:
    if path.is_dir():
        return [info.name for info in list_eval_logs(str(path))]
    return [str(path)]


def _multi_turn(header: EvalLog) -> bool:
    """Whether a log's samples are pressure conversations (its arm, else its task name)."""
    arm = (header.eval.metadata or {}).get("arm") or header.eval.task.rsplit("/", 1)[-1]
    return arm in MULTI_TURN_ARMS


def _sample_messages(
    sample: EvalSample, source: str, record: str, info: SourceInfo, multi_turn: bool
) -> Iterator[Message]:
    # A pressure conversation: the dialogue solver's record is in the store.
    conversation = multi_turn and DIALOGUE_STORE_KEY in (sample.store or {})
    turn = 0
    users = 0
    for message in sample.messages:
        if message.role == "user":
            users += 1
        if message.role != "assistant":
            continue
        text = message.text
        if not text.strip():
            info.skipped_empty += 1
            continue
        turn += 1
        info.messages += 1
        yield Message(text, source, record, turn, dialogue_turn=users if conversation else 0)


def _samples_in_order(location: str) -> Iterator[EvalSample]:
    """The samples `read_eval_log_samples` yields, from one read shared with the process.

    In dataset order, then epoch, message attachments resolved. `read_eval_log_samples`
    re-opens the log for every sample: quadratic in the samples of
    a large `.eval` file.
    """
    log = read_log_without_events(location)
    by_key = {(sample.id, sample.epoch): sample for sample in log.samples or []}
    for sample_id in log.eval.dataset.sample_ids or []:
        for epoch in range(1, (log.eval.config.epochs or 1) + 1):
            sample = by_key.get((sample_id, epoch))
            if sample is None:
                continue
            # Only message texts are read: resolving a sample whose texts hold no reference
            # would copy it for nothing.
            if any(ATTACHMENT in message.text for message in sample.messages):
                sample = resolve_sample_attachments(sample, True)
            yield sample


def _read_logs(path: Path, seen: set[tuple[str, str, str, int]], corpus: Corpus) -> list[Problem]:
    """Assistant messages of every sample; a sample in several logs counts once, newest."""
    problems: list[Problem] = []
    info = SourceInfo(display_path(path), "eval_logs")
    headers: list[tuple[str, str, str, str, bool]] = []
    for location in _log_files(path):
        file = display_path(Path(location.removeprefix("file://")))
        try:
            header = read_eval_log(location, header_only=True)
        except Exception as exc:  # inspect raises many types for a corrupt or foreign file
            hint = " (datasets must be JSONL, one record a line)" if file.endswith(".json") else ""
            problems.append(Problem(file, 1, "", f"cannot read eval log{hint}: {exc}"))
            continue
        task = arm_of(header) or header.eval.task
        headers.append(
            (header.eval.created, location, task, checkpoint_of(header), _multi_turn(header))
        )
    if not headers and not problems:
        problems.append(Problem(info.path, 1, "", "no eval logs (.eval or .json) found"))
    for _, location, task, checkpoint, multi_turn in sorted(headers, reverse=True):
        file = display_path(Path(location.removeprefix("file://")))
        try:
            for sample in _samples_in_order(location):
                key = (checkpoint, task, str(sample.id), sample.epoch)
                if key in seen:
                    continue
                seen.add(key)
                info.records += 1
                record = f"{task}:{sample.id}:{sample.epoch}"
                corpus.messages.extend(_sample_messages(sample, file, record, info, multi_turn))
        except Exception as exc:  # as above: report, never a traceback
            problems.append(Problem(file, 1, "", f"cannot read eval log samples: {exc}"))
    corpus.sources.append(info)
    return problems


# ---------------------------------------------------------------- JSONL datasets


class BadRecord(Exception):
    """A dataset record that is not a chat or a prompt/completion pair; `path` is the field."""

    def __init__(self, path: str, message: str) -> None:
        super().__init__(f"{path}: {message}" if path else message)
        self.path = path
        self.message = message


def _content_text(content: Any, where: str) -> str:
    """Text of an OpenAI message `content`: a string, None, or a list of parts."""
    if content is None:
        return ""
    if isinstance(content, str):
        return content
    if not isinstance(content, list):
        raise BadRecord(where, "must be a string, null or a list of content parts")
    texts: list[str] = []
    for index, part in enumerate(content):
        if isinstance(part, str):
            texts.append(part)
        elif isinstance(part, dict):
            if part.get("type", "text") == "text":
                text = part.get("text")
                if not isinstance(text, str):
                    raise BadRecord(f"{where}.{index}.text", "a text part needs a string 'text'")
                texts.append(text)
        else:
            raise BadRecord(f"{where}.{index}", "a content part must be an object or a string")
    return "\n".join(texts)


def _chat_texts(messages: Any, where: str) -> list[str]:
    """Assistant texts of an OpenAI-format message list."""
    if not isinstance(messages, list):
        raise BadRecord(where, "must be a list of messages")
    texts: list[str] = []
    for index, message in enumerate(messages):
        if not isinstance(message, dict):
            raise BadRecord(f"{where}.{index}", "each message must be an object")
        role = message.get("role")
        if not isinstance(role, str):
            raise BadRecord(f"{where}.{index}.role", "required field is missing")
        if role == "assistant":
            texts.append(_content_text(message.get("content"), f"{where}.{index}.content"))
    return texts


def record_texts(record: Any) -> list[str]:
    """Assistant texts of one dataset record (chat `messages`, or a `completion`).

    Raises:
        BadRecord: when the record has neither shape or a malformed field.

    """
    if not isinstance(record, dict):
        raise BadRecord("", "each line must be a JSON object")
    if "messages" in record:
        return _chat_texts(record["messages"], "messages")
    if "completion" in record:
        completion = record["completion"]
        if isinstance(completion, str):
            return [completion]
        if isinstance(completion, list):
            return _chat_texts(completion, "completion")
        raise BadRecord("completion", "must be a string or a list of messages")
    raise BadRecord(
        "", "expected a 'messages' list (OpenAI chat format) or 'prompt' and 'completion' fields"
    )


def _record_id(record: dict[str, Any], number: int) -> str:
    value = record.get("id")
    return str(value) if isinstance(value, str | int) else f"line {number}"


def _read_jsonl(path: Path, corpus: Corpus) -> list[Problem]:
    file = display_path(path)
    info = SourceInfo(file, "jsonl")
    problems: list[Problem] = []
    more: list[int] = []

    def problem(number: int, where: str, message: str) -> None:
        if len(problems) < MAX_PROBLEMS_PER_FILE:
            problems.append(Problem(file, number, where, message))
        else:
            more.append(number)

    try:
        handle = path.open("rb")
    except OSError as exc:
        return [Problem(file, 1, "", f"cannot read file: {exc.strerror or exc}")]
    with handle:
        # Streamed line by line with plain json.loads: a model per record is too slow at 100k.
        for number, raw in enumerate(handle, start=1):
            if not raw.strip():
                continue
            try:
                record = json.loads(raw)
            except ValueError as exc:  # JSONDecodeError, UnicodeDecodeError, huge integers
                problem(number, "", f"not valid JSON: {getattr(exc, 'msg', exc)}")
                continue
            except RecursionError:
                problem(number, "", "not valid JSON: nested too deeply")
                continue
            try:
                texts = record_texts(record)
            except BadRecord as exc:
                problem(number, exc.path, exc.message)
                continue
            info.records += 1
            record_id = _record_id(record, number)
            turn = 0
            for text in texts:
                if not text.strip():
                    info.skipped_empty += 1
                    continue
                turn += 1
                info.messages += 1
                corpus.messages.append(Message(text, file, record_id, turn, number))
    if more:
        problems.append(Problem(file, more[0], "", f"{len(more)} more bad record(s) not listed"))
    if info.records == 0 and not problems:
        problems.append(Problem(file, 1, "", "no records in this file"))
    corpus.sources.append(info)
    return problems


def read_sources(paths: Sequence[Path]) -> Corpus:
    """Assistant messages of every source, in order, with provenance.

    Eval-log samples found in several logs (a resumed or repeated run) count once, from
    the newest log; samples of different checkpoints or tasks are all kept.

    Raises:
        ValidationFailed: with every problem found (missing files, unknown kinds, bad records).

    """
    corpus = Corpus()
    problems: list[Problem] = []
    seen: set[tuple[str, str, str, int]] = set()
    for path in paths:
        if not path.exists():
            problems.append(Problem(display_path(path), 1, "", "no such file or folder"))
            continue
        kind = source_kind(path)
        if kind == "eval_logs":
            problems.extend(_read_logs(path, seen, corpus))
        elif kind == "jsonl":
            problems.extend(_read_jsonl(path, corpus))
        else:
            problems.append(
                Problem(
                    display_path(path),
                    1,
                    "",
                    "unknown source: expected an eval log (.eval, .json), a log folder or a "
                    "JSONL dataset (.jsonl)",
                )
            )
    if problems:
        raise ValidationFailed(problems)
    return corpus
