"""Run settings: what selects and shapes the arms' tasks, as one typed object.

`harness run` builds a `RunSettings` from its flags, each `@task` builds one from its
arguments, and `arm_tasks` hands it on to the tasks of the chosen arms. The field
docstrings are the one description of each setting: the tasks' `Args:` sections are
made from them (`documented`).
"""

from __future__ import annotations

import ast
import functools
import inspect
import textwrap
from collections.abc import Callable, Mapping
from dataclasses import dataclass, fields
from pathlib import Path
from typing import Any, TypeVar

from harness._util import DRIVERS
from harness.scenario import Catalogue, Driver, load_catalogue

F = TypeVar("F", bound=Callable[..., Any])

_INTEGERS = ("max_turns", "items_per_scenario", "limit", "seed", "max_backtracks")
"""Fields read as whole numbers whatever type they arrive as (`-T` values are YAML)."""


def as_list(value: str | list[str] | None) -> list[str] | None:
    """Accept `-T x=a,b` (a list after inspect's YAML parsing), a comma string or a list."""
    if value is None:
        return None
    if isinstance(value, str):
        parts = [part.strip() for part in value.split(",")]
    else:
        parts = [str(part).strip() for part in value]
    return [part for part in parts if part] or None


@dataclass(frozen=True, kw_only=True)
class RunSettings:
    """The settings the arms' tasks are built from, from `harness run` down to each `@task`.

    Lists stay as given (a comma string stays a string): the arguments passed on to a
    task are part of its identity in an eval set, so they must not change shape.
    On construction the driver is checked and whole-number settings are made `int`.

    Raises:
        ValueError: an unknown driver, or a whole-number setting that is not one.

    """

    scenarios: str | list[str] | None = None
    """Scenario files or folders, comma-separated or a list (default: the bundled
    `scenarios/`)."""
    traits: str | list[str] | None = None
    """Only scenarios (and knowledge probes) of these traits."""
    max_turns: int | None = None
    """Override each scenario's cap on target turns."""
    driver: Driver | None = None
    """Override each scenario's driver: `scripted`, `persona` or `hybrid`."""
    items_per_scenario: int | None = None
    """Only the first N items of each scenario (for smoke runs)."""
    limit: int | None = None
    """Only the first N samples, interleaved across traits (part of the task's identity,
    so an eval set resumes a capped run correctly)."""
    seed: int = 0
    """Run seed; every sample derives its own seed from it."""
    graders: str | None = None
    """Folder with rubrics and grader templates (default: the bundled `graders/`)."""
    scorers: str | list[str] | None = None
    """`rubric` and/or `flip` (default both): the rubric grader, the flip detector.
    Without `rubric` no grader role is required."""
    replay: str | None = None
    """A finished `harness/pressure` log whose user turns (scripted and persona-written)
    are sent again, in order, instead of a live driver; no attacker is called. Samples
    the log lacks, or whose opening or system prompt differ from it, are left out and
    listed in the task metadata."""
    target_system_prompt: str | None = None
    """Text put before every sample's own system prompt (a blank line apart), or its
    system prompt when it has none."""
    target_system_prompt_file: str | None = None
    """A file holding the target system prompt."""
    max_backtracks: int | None = None
    """Override every persona's backtracking budget: 0 never rolls back; N > 0 lets the
    attacker roll back up to N resisted exchanges per conversation (personas without a
    `backtracking` section get the default check: the expected answer where declared,
    else the grader role)."""

    def __post_init__(self) -> None:
        if self.driver is not None and self.driver not in DRIVERS:
            raise ValueError(f"driver must be one of {', '.join(DRIVERS)}, not '{self.driver}'")
        for name in _INTEGERS:
            value = getattr(self, name)
            if value is not None:
                object.__setattr__(self, name, int(value))  # frozen: set once, here

    @classmethod
    def from_arguments(cls, arguments: Mapping[str, Any]) -> RunSettings:
        """The settings among a task's arguments (its other arguments are left out)."""
        names = {f.name for f in fields(cls)}
        return cls(**{k: v for k, v in arguments.items() if k in names})

    def task_args(self, task: Callable[..., Any]) -> dict[str, Any]:
        """The settings `task` takes, those that are set: what `arm_tasks` passes it.

        Unset settings are not passed, so a task's identity (and so eval-set
        resumption) does not depend on defaults being spelled out.
        """
        accepted = inspect.signature(task).parameters
        found = {f.name: getattr(self, f.name) for f in fields(self) if f.name in accepted}
        return {k: v for k, v in found.items() if v is not None}

    @property
    def scenario_paths(self) -> list[Path] | None:
        """The scenario files or folders, or None for the bundled ones."""
        return [Path(p) for p in as_list(self.scenarios) or []] or None

    @property
    def trait_names(self) -> list[str] | None:
        """The traits chosen, or None for all."""
        return as_list(self.traits)

    def catalogue(self) -> Catalogue:
        """The scenarios, rubrics and tactics these settings select.

        Raises:
            ValidationFailed: a file does not validate.

        """
        graders = Path(self.graders) if self.graders else None
        return load_catalogue(self.scenario_paths, graders, self.trait_names)

    def system_prompt_text(self) -> str | None:
        """The target system prompt given as text or as a file to read, or None.

        Raises:
            ValueError: when both are given, the file cannot be read, or the text is
                empty or not a string (`-T` values are parsed as YAML: a colon makes a
                mapping).

        """
        text: object = self.target_system_prompt
        file = self.target_system_prompt_file
        if text is not None and file is not None:
            raise ValueError("give target_system_prompt or target_system_prompt_file, not both")
        if file is not None:
            try:
                text = Path(file).read_text(encoding="utf-8")
            except OSError as exc:
                raise ValueError(
                    f"target_system_prompt_file {file}: cannot be read: {exc}"
                ) from exc
        if text is None:
            return None
        if not isinstance(text, str):
            raise ValueError(
                "target_system_prompt must be text, not "
                f"{type(text).__name__} (put it in a file and pass target_system_prompt_file)"
            )
        if not text.strip():
            raise ValueError("target_system_prompt is empty")
        return text


@functools.cache
def field_docs() -> dict[str, str]:
    """Each `RunSettings` field's docstring, read from the class source."""
    try:
        source = textwrap.dedent(inspect.getsource(RunSettings))
    except (OSError, TypeError):  # no source (e.g. a frozen build): no generated docs
        return {}
    body = ast.parse(source).body[0]
    assert isinstance(body, ast.ClassDef)
    docs: dict[str, str] = {}
    for node, after in zip(body.body, body.body[1:], strict=False):
        if (
            isinstance(node, ast.AnnAssign)
            and isinstance(node.target, ast.Name)
            and isinstance(after, ast.Expr)
            and isinstance(after.value, ast.Constant)
            and isinstance(after.value.value, str)
        ):
            docs[node.target.id] = " ".join(after.value.value.split())
    return docs


def documented(**own: str) -> Callable[[F], F]:
    """Append an `Args:` section to a task's docstring, one entry per parameter.

    A parameter that is a setting is described by its `RunSettings` field docstring;
    `own` describes the task's other parameters. Put it under `@task`, which copies
    the docstring.
    """

    def decorate(func: F) -> F:
        docs = {**field_docs(), **{k: " ".join(v.split()) for k, v in own.items()}}
        missing = [name for name in inspect.signature(func).parameters if name not in docs]
        if field_docs() and missing:  # a new parameter must be described somewhere
            raise TypeError(f"{func.__name__}: no description of {', '.join(missing)}")
        entries = [
            textwrap.fill(
                f"{name}: {docs[name]}",
                width=88,
                break_on_hyphens=False,
                initial_indent="    ",
                subsequent_indent="        ",
            )
            for name in inspect.signature(func).parameters
            if name in docs
        ]
        summary = inspect.cleandoc(func.__doc__ or "")
        func.__doc__ = summary + "\n\nArgs:\n" + "\n".join(entries) + "\n"
        return func

    return decorate
