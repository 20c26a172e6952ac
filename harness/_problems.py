"""Validation problems: each names a file, a line and a field path."""

from __future__ import annotations

from dataclasses import dataclass


@dataclass(frozen=True, order=True)
class Problem:
    """One validation problem, printed as `file:line: field.path: message`."""

    file: str
    line: int
    path: str
    message: str

    def __str__(self) -> str:
        where = f"{self.path}: " if self.path else ""
        return f"{self.file}:{self.line}: {where}{self.message}"


class ValidationFailed(Exception):
    """Raised when scenario or rubric files are invalid; carries every problem found."""

    def __init__(self, problems: list[Problem]) -> None:
        self.problems = sorted(problems)
        super().__init__("\n".join(str(p) for p in self.problems))


def dotted(loc: tuple[str | int, ...]) -> str:
    """Render a location tuple as `a.b.0.c`."""
    return ".".join(str(part) for part in loc)
