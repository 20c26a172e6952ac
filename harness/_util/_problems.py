"""Validation problems: each names a file, a line and a field path."""

from __future__ import annotations

import json
from dataclasses import dataclass
from pathlib import Path
from typing import Any, TypeVar

from pydantic import BaseModel, ValidationError

from harness._util._paths import display_path
from harness._util._yaml import LoadedYaml, YamlError, load_yaml_mapping

M = TypeVar("M", bound=BaseModel)


@dataclass(frozen=True, order=True)
class Problem:
    """One validation problem, printed as `file:line: field.path: message`."""

    file: str
    line: int
    path: str
    message: str

    def __str__(self) -> str:
        where = f"{_one_line(self.path)}: " if self.path else ""
        return f"{self.file}:{self.line}: {where}{_one_line(self.message)}"


def _one_line(text: str) -> str:
    # Keys and values come from the file: a newline (or a bidi override) in one must not
    # break the one-problem-per-line output or disguise it in a terminal.
    return "".join(c if c.isprintable() else c.encode("unicode_escape").decode() for c in text)


class ValidationFailed(Exception):
    """Raised when scenario or rubric files are invalid; carries every problem found."""

    def __init__(self, problems: list[Problem]) -> None:
        self.problems = sorted(problems)
        super().__init__("\n".join(str(p) for p in self.problems))


def dotted(loc: tuple[str | int, ...]) -> str:
    """Render a location tuple as `a.b.0.c`."""
    return ".".join(str(part) for part in loc)


_UNION_BRANCHES = frozenset({"str", "LadderTurn", "ChoiceQuestion", "function-after"})


def validation_messages(exc: ValidationError) -> list[tuple[tuple[str | int, ...], str]]:
    """Each pydantic error as (field location, readable message).

    Unions report the branch type in the location (e.g. `turns.0.str`); those parts
    are dropped so the path matches the file.
    """
    found: list[tuple[tuple[str | int, ...], str]] = []
    for error in exc.errors():
        loc = tuple(p for p in error["loc"] if not (isinstance(p, str) and p in _UNION_BRANCHES))
        message = error["msg"].removeprefix("Value error, ")
        if error["type"] == "extra_forbidden":
            message = "unknown field"
        elif error["type"] == "missing":
            message = "required field is missing"
        found.append((loc, message))
    return found


def parse_jsonl(file: str, lines: list[str]) -> tuple[list[tuple[int, Any]], list[Problem]]:
    """Parse non-blank JSONL lines: (line number, value) pairs, and a problem per bad line."""
    parsed: list[tuple[int, Any]] = []
    problems: list[Problem] = []
    for number, raw in enumerate(lines, start=1):
        if not raw.strip():
            continue
        try:
            parsed.append((number, json.loads(raw)))
        except json.JSONDecodeError as exc:
            problems.append(Problem(file, number, "", f"not valid JSON: {exc.msg}"))
        except ValueError:  # an integer longer than Python converts
            problems.append(Problem(file, number, "", "not valid JSON: a number is too long"))
        except RecursionError:
            problems.append(Problem(file, number, "", "not valid JSON: nested too deeply"))
    return parsed, problems


def read_jsonl_models(
    path: Path, file: str, model: type[M]
) -> tuple[list[tuple[int, M]], list[Problem]]:
    """Read a JSONL file and validate each line as `model`: (line, record) pairs and problems.

    Raises:
        ValidationFailed: when the file cannot be read at all.

    """
    try:
        lines = path.read_text(encoding="utf-8").splitlines()
    except (OSError, UnicodeDecodeError) as exc:
        raise ValidationFailed([Problem(file, 1, "", f"cannot read file: {exc}")]) from None
    parsed, problems = parse_jsonl(file, lines)
    records: list[tuple[int, M]] = []
    for number, data in parsed:
        try:
            records.append((number, model.model_validate(data)))
        except ValidationError as exc:
            problems.extend(
                Problem(file, number, dotted(loc), message)
                for loc, message in validation_messages(exc)
            )
    return records, problems


def _pydantic_problems(file: str, source: LoadedYaml, exc: ValidationError) -> list[Problem]:
    return [
        Problem(file, source.line_of(loc), dotted(loc), message)
        for loc, message in validation_messages(exc)
    ]


def load_model(path: Path, model: type[M], problems: list[Problem]) -> tuple[M, LoadedYaml] | None:
    """Read a YAML file into `model`; append file:line problems and return None when invalid."""
    file = display_path(path)
    try:
        text = path.read_text(encoding="utf-8")
    except UnicodeDecodeError:
        problems.append(Problem(file, 1, "", "not a text file (expected UTF-8 YAML)"))
        return None
    except OSError as exc:
        problems.append(Problem(file, 1, "", f"cannot read file: {exc.strerror}"))
        return None
    try:
        source = load_yaml_mapping(text)
    except YamlError as exc:
        problems.append(Problem(file, exc.line, "", exc.message))
        return None
    try:
        return model.model_validate(source.data), source
    except ValidationError as exc:
        problems.extend(_pydantic_problems(file, source, exc))
        return None
