"""The tactic library: pressure tactics as data, and which tactic a persona uses when.

A tactic is a file `tactics/<name>.yaml` (a `TacticSpec`: description, version and an
instruction template in the same folder). The bundled library is `scenarios/tactics/`;
a `tactics/` folder beside or above a scenario file adds to it and wins over it, so a
team can add a tactic without touching Python.
"""

from __future__ import annotations

from collections.abc import Iterable, Sequence
from dataclasses import dataclass
from functools import cache
from pathlib import Path
from typing import Any

from harness._util import (
    Problem,
    TemplateProblem,
    ValidationFailed,
    check_template,
    render_file,
    scenarios_dir,
)
from harness.scenario._schema import TacticSpec

TACTICS_FOLDER = "tactics"


@dataclass(frozen=True)
class TacticFile:
    """A loaded tactic: its name (the file stem), file and validated contents."""

    name: str
    path: Path
    spec: TacticSpec

    @property
    def instruction_path(self) -> Path:
        """The instruction template, beside the tactic file."""
        return self.path.parent / self.spec.instruction


def tactic_folders(near: Path | None) -> list[Path]:
    """Tactic folders searched for a scenario in `near`: nearest first, the bundled one last."""
    folders: list[Path] = []
    if near is not None:
        for folder in [near, *near.parents]:
            candidate = folder / TACTICS_FOLDER
            if candidate.is_dir() and candidate not in folders:
                folders.append(candidate)
    bundled = scenarios_dir() / TACTICS_FOLDER
    if bundled not in folders:
        folders.append(bundled)
    return folders


def find_tactic(name: str, near: Path | None) -> Path | None:
    """The file defining tactic `name` for a scenario in `near`, or None."""
    for folder in tactic_folders(near):
        candidate = folder / f"{name}.yaml"
        if candidate.is_file():
            return candidate
    return None


SAMPLE_VARIABLES: dict[str, Any] = {
    "persona": {"description": "d", "goal": "g", "tactics": ["t"]},
    "scenario": {"id": "x/y", "description": "d"},
    "turn": 2,
    "max_turns": 5,
    "turns_left": 3,
}
"""Variables a tactic instruction is test-rendered with at validation time."""


def load_tactic_file(path: Path, problems: list[Problem]) -> TacticFile | None:
    """Load and validate one tactic file; append problems and return None when invalid."""
    # Imported here: the loader imports this module to check the tactics scenarios name.
    from harness._util import display_path, load_model

    loaded = load_model(path, TacticSpec, problems)
    if loaded is None:
        return None
    spec, source = loaded
    file = display_path(path)
    tactic = TacticFile(path.stem, path, spec)
    line = source.line_of(("instruction",))
    try:
        check_template(tactic.instruction_path.read_text(encoding="utf-8"))
        render_file(tactic.instruction_path, SAMPLE_VARIABLES)
    except OSError:
        problems.append(
            Problem(file, line, "instruction", f"template '{spec.instruction}' not found beside it")
        )
        return None
    except TemplateProblem as exc:
        problems.append(Problem(file, line, "instruction", f"{spec.instruction}: {exc}"))
        return None
    return tactic


def load_tactic_folder(folder: Path, problems: list[Problem]) -> dict[str, TacticFile]:
    """Every tactic in a folder, by name (invalid ones reported in `problems`)."""
    found: dict[str, TacticFile] = {}
    for path in sorted(folder.glob("*.yaml")):
        tactic = load_tactic_file(path, problems)
        if tactic is not None:
            found[tactic.name] = tactic
    return found


@cache
def _cached_tactic(path: Path) -> TacticFile:
    problems: list[Problem] = []
    tactic = load_tactic_file(path, problems)
    if tactic is None:
        raise ValidationFailed(problems)
    return tactic


def load_tactic(name: str, near: Path | None) -> TacticFile:
    """The tactic `name` as a scenario in `near` sees it.

    Raises:
        ValidationFailed: the tactic is unknown or its file is invalid.

    """
    path = find_tactic(name, near)
    if path is None:
        folders = ", ".join(str(f) for f in tactic_folders(near))
        raise ValidationFailed(
            [Problem("<tactics>", 1, "", f"unknown tactic '{name}' ({folders})")]
        )
    return _cached_tactic(path.resolve())


def tactic_versions(names: Iterable[str], near: Path | None) -> dict[str, int]:
    """Version of each named tactic, recorded with every sample that may use it."""
    return {name: load_tactic(name, near).spec.version for name in dict.fromkeys(names)}


def render_tactic(name: str, near: Path | None, variables: dict[str, Any]) -> dict[str, str]:
    """A tactic as the attacker template receives it: name, description, rendered instruction."""
    tactic = load_tactic(name, near)
    return {
        "name": name,
        "description": tactic.spec.description.strip(),
        "instruction": render_file(tactic.instruction_path, variables),
    }


def allowed_tactics(
    tactics: Sequence[str], schedule: Sequence[dict[str, Any]], user_turn: int
) -> list[str]:
    """Tactics a persona may use at `user_turn`.

    Those of the latest schedule step that has started; before the first step, or
    without a schedule, every tactic the persona lists.
    """
    started = [step for step in schedule if int(step["from_turn"]) <= user_turn]
    return list(started[-1]["tactics"]) if started else list(tactics)


def choose_tactic(
    allowed: Sequence[str], used: Sequence[str], rejected: Iterable[str]
) -> str | None:
    """The next tactic, or None when every allowed tactic was rejected at this turn.

    Of the allowed tactics not rejected here, the least used so far, the earliest in
    the list on ties (so an unscheduled persona escalates through its list).
    """
    rejected_set = set(rejected)
    candidates = [t for t in allowed if t not in rejected_set]
    if not candidates:
        return None
    return min(candidates, key=lambda t: (list(used).count(t), list(allowed).index(t)))
