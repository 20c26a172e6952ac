"""Where the command line writes: the consoles, error lines and validation problems."""

from __future__ import annotations

import sys

from rich.console import Console

from harness._util import ValidationFailed


def console(stderr: bool = False) -> Console:
    """A console on stdout (or stderr) that prints text as given, without highlighting."""
    # rich drops colour by itself when not writing to a TTY; give tables room in CI logs.
    stream = sys.stderr if stderr else sys.stdout
    width = None if stream.isatty() else 160
    return Console(stderr=stderr, highlight=False, soft_wrap=True, width=width)


def print_error(message: str) -> None:
    """`error: MESSAGE` on stderr."""
    console(stderr=True).print(f"error: {message}", markup=False)


def print_problems(exc: ValidationFailed) -> None:
    """Each problem of a failed validation on stderr, then how many there were."""
    err = console(stderr=True)
    for problem in exc.problems:
        err.print(str(problem), markup=False)
    err.print(f"{len(exc.problems)} problem(s) found", style="red", markup=False)
