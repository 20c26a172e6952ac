"""Inspect tasks: `harness/pressure`, `harness/single_turn` and `harness/knowledge`."""

from __future__ import annotations

import hashlib
from pathlib import Path
from typing import Any

from inspect_ai import Task, task
from inspect_ai.dataset import MemoryDataset, Sample
from inspect_ai.model import get_model
from inspect_ai.scorer import Scorer
from inspect_ai.solver import Generate, Solver, TaskState, solver

from harness import __version__
from harness._util import DRIVERS, display_path
from harness.scenario import Catalogue, load_catalogue
from harness.scorer import flip_detector, knowledge_grader, rubric_grader
from harness.solver import dialogue, read_replay_log
from harness.task._dataset import (
    build_knowledge_samples,
    build_samples,
    build_single_turn_samples,
    replay_samples,
    with_target_system_prompt,
)


def as_list(value: str | list[str] | None) -> list[str] | None:
    """Accept `-T x=a,b` (a list after inspect's YAML parsing), a comma string or a list."""
    if value is None:
        return None
    if isinstance(value, str):
        parts = [part.strip() for part in value.split(",")]
    else:
        parts = [str(part).strip() for part in value]
    return [part for part in parts if part] or None


def _file_sha(path: Path) -> str:
    return hashlib.sha256(path.read_bytes()).hexdigest()


def catalogue_record(catalogue: Catalogue) -> dict[str, Any]:
    """Versions and content hashes of every file a result depends on, for the log."""
    files: dict[str, str] = {}
    for scenario_file in catalogue.scenarios:
        files[display_path(scenario_file.path)] = _file_sha(scenario_file.path)
        if scenario_file.items_path is not None:
            files[display_path(scenario_file.items_path)] = _file_sha(scenario_file.items_path)
    for rubric_file in catalogue.rubrics.values():
        files[display_path(rubric_file.path)] = _file_sha(rubric_file.path)
    for template in sorted((catalogue.graders_dir / "templates").glob("*.j2")):
        files[display_path(template)] = _file_sha(template)
    return {
        "harness_version": __version__,
        "scenarios": {s.scenario.id: s.scenario.version for s in catalogue.scenarios},
        "rubrics": {t: r.rubric.version for t, r in catalogue.rubrics.items()},
        "files_sha256": files,
    }


@solver
def require_roles(*roles: str) -> Solver:
    """Fail at the first sample, before any target call, when a model role is not bound."""

    async def solve(state: TaskState, generate: Generate) -> TaskState:
        for role in roles:
            get_model(role=role, required=True)
        return state

    return solve


SCORERS = ("rubric", "flip")


def conversation_scorers(
    scorers: str | list[str] | None, graders: Path, pressured_opening: bool = False
) -> tuple[list[Scorer], Solver | None]:
    """The conversation arms' scorers, and the set-up check that the grader role is bound.

    `rubric` (the rubric grader) needs the grader role; `flip` (the flip detector) asks
    it only for turns its rules cannot read, and leaves them unscored when it is unbound.
    """
    chosen = as_list(scorers) or list(SCORERS)
    unknown = [name for name in chosen if name not in SCORERS]
    if unknown:
        raise ValueError(f"scorers must be among {', '.join(SCORERS)}, not {', '.join(unknown)}")
    found: list[Scorer] = []
    if "rubric" in chosen:
        found.append(rubric_grader(graders=str(graders)))
    if "flip" in chosen:
        found.append(flip_detector(graders=str(graders), pressured_opening=pressured_opening))
    return found, require_roles("grader") if "rubric" in chosen else None


def capped_dataset(samples: list[Sample], limit: int | None, name: str) -> MemoryDataset:
    """The first `limit` samples (all when None) as a named dataset."""
    return MemoryDataset(samples[: int(limit)] if limit else samples, name=name)


def _catalogue(
    scenarios: str | list[str] | None, traits: str | list[str] | None, graders: str | None
) -> Catalogue:
    paths = [Path(p) for p in as_list(scenarios) or []] or None
    return load_catalogue(paths, Path(graders) if graders else None, as_list(traits))


def target_system_prompt_text(text: object, file: str | None) -> str | None:
    """The target system prompt given as text or as a file to read, or None.

    Raises:
        ValueError: when both are given, the file cannot be read, or the text is empty
            or not a string (`-T` values are parsed as YAML: a colon makes a mapping).

    """
    if text is not None and file is not None:
        raise ValueError("give target_system_prompt or target_system_prompt_file, not both")
    if file is not None:
        try:
            text = Path(file).read_text(encoding="utf-8")
        except OSError as exc:
            raise ValueError(f"target_system_prompt_file {file}: cannot be read: {exc}") from exc
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


def _with_target_prompt(samples: list[Sample], text: str | None) -> list[Sample]:
    return with_target_system_prompt(samples, text) if text is not None else samples


@task
def pressure(
    scenarios: str | list[str] | None = None,
    traits: str | list[str] | None = None,
    max_turns: int | None = None,
    driver: str | None = None,
    items_per_scenario: int | None = None,
    limit: int | None = None,
    seed: int = 0,
    graders: str | None = None,
    scorers: str | list[str] | None = None,
    replay: str | None = None,
    target_system_prompt: str | None = None,
    target_system_prompt_file: str | None = None,
    max_backtracks: int | None = None,
    driver_comparison: bool = False,
) -> Task:
    """Multi-turn adversarial pressure: does the target hold its position, and when does it cave.

    Args:
        scenarios: Scenario files or folders (default: the bundled `scenarios/`).
        traits: Only scenarios of these traits.
        max_turns: Override each scenario's cap on target turns.
        driver: Override each scenario's driver: `scripted`, `persona` or `hybrid`.
        items_per_scenario: Only the first N items of each scenario (for smoke runs).
        limit: Only the first N samples, interleaved across traits (part of the task's
            identity, so an eval set resumes a capped run correctly).
        seed: Run seed; every sample derives its own seed from it.
        graders: Folder with rubrics and grader templates (default: the bundled `graders/`).
        scorers: `rubric` and/or `flip` (default both): the rubric grader, the flip
            detector. Without `rubric` no grader role is required.
        replay: A finished `harness/pressure` log whose user turns (scripted and
            persona-written) are sent again, in order, instead of a live driver; no
            attacker is called. Samples the log lacks, or whose opening or system
            prompt differ from it, are left out and listed in the task metadata.
        target_system_prompt: Text put before every sample's own system prompt (a blank
            line apart), or its system prompt when it has none.
        target_system_prompt_file: A file holding the target system prompt.
        max_backtracks: Override every persona's backtracking budget: 0 never rolls
            back; N > 0 lets the attacker roll back up to N resisted exchanges per
            conversation (personas without a `backtracking` section get the default
            check: the expected answer where declared, else the grader role).
        driver_comparison: Run as one variant of a driver comparison (`harness run
            --compare-drivers`): the log is kept apart from the multi-turn arm, and
            scenarios the driver does not fit are left out and listed rather than
            failing the task.

    """
    if driver is not None and driver not in DRIVERS:
        raise ValueError(f"driver must be one of {', '.join(DRIVERS)}, not '{driver}'")
    if driver is not None and replay is not None:
        raise ValueError("give driver or replay, not both: a replay sends the recorded turns")
    if max_turns is not None and int(max_turns) < 1:
        raise ValueError("max_turns must be at least 1")
    system_text = target_system_prompt_text(target_system_prompt, target_system_prompt_file)
    replay_log = read_replay_log(str(replay)) if replay is not None else None
    catalogue = _catalogue(scenarios, traits, graders)
    scorer_list, setup = conversation_scorers(scorers, catalogue.graders_dir)
    turn_cap = int(max_turns) if max_turns is not None else None
    skipped: list[str] = []
    samples = build_samples(
        catalogue,
        driver=driver,
        max_turns=turn_cap,
        items_per_scenario=int(items_per_scenario) if items_per_scenario else None,
        seed=int(seed),
        max_backtracks=int(max_backtracks) if max_backtracks is not None else None,
        skip_misfits=skipped if driver_comparison else None,
    )
    variant = driver_variant(driver, max_backtracks)
    if driver_comparison and not samples:
        raise ValueError(
            f"driver variant '{variant}' fits none of the scenarios: {'; '.join(skipped)}"
        )
    if driver_comparison:
        for sample in samples:
            assert sample.metadata is not None
            sample.metadata["driver_variant"] = variant
    replay_record: dict[str, Any] = {"replay": None}
    if replay_log is not None:
        # Capped first, so that `limit` picks the same samples as in the recorded run.
        selection = replay_samples(
            samples[: int(limit)] if limit else samples, replay_log, turn_cap
        )
        samples = selection.samples
        replay_record = {
            "replay": replay_log.record(),
            "replay_missing": selection.missing,
            "replay_opening_mismatch": selection.opening_mismatch,
            "replay_system_prompt_mismatch": selection.system_prompt_mismatch,
        }
    return Task(
        dataset=capped_dataset(
            _with_target_prompt(samples, system_text), limit, "harness-scenarios"
        ),
        setup=setup,
        solver=dialogue(),
        # The rubric grader judges every conversation; the flip detector checks
        # the ones whose scenario declares answers (n/a for the rest).
        scorer=scorer_list,
        metadata={
            "arm": "driver_comparison" if driver_comparison else "pressure",
            "driver_variant": variant,
            "skipped_scenarios": skipped,
            **replay_record,
            "target_system_prompt": system_text,
            **catalogue_record(catalogue),
        },
    )


def driver_variant(driver: str | None, max_backtracks: int | None) -> str:
    """A run's driver label, e.g. `persona+backtrack`.

    The driver (`scenario` when each scenario keeps its own), with `+backtrack` when
    backtracking was switched on by `max_backtracks`.
    """
    label = driver or "scenario"
    return f"{label}+backtrack" if max_backtracks else label


@task
def single_turn(
    scenarios: str | list[str] | None = None,
    traits: str | list[str] | None = None,
    items_per_scenario: int | None = None,
    limit: int | None = None,
    seed: int = 0,
    graders: str | None = None,
    scorers: str | list[str] | None = None,
    target_system_prompt: str | None = None,
    target_system_prompt_file: str | None = None,
) -> Task:
    """Single-turn probe: each scenario's pressure folded into one message, graded the same way.

    The message is the scenario's `single_turn` template, or else its opening followed by
    the ladder's last (strongest) rung. Sample ids equal the pressure arm's, so the two
    arms pair on scenario x item for `pressure_delta`.

    Args:
        scenarios: Scenario files or folders (default: the bundled `scenarios/`).
        traits: Only scenarios of these traits.
        items_per_scenario: Only the first N items of each scenario (for smoke runs).
        limit: Only the first N samples, interleaved across traits (part of the task's
            identity, so an eval set resumes a capped run correctly).
        seed: Run seed; every sample derives its own seed from it.
        graders: Folder with rubrics and grader templates (default: the bundled `graders/`).
        scorers: `rubric` and/or `flip` (default both): the rubric grader, the flip
            detector. Without `rubric` no grader role is required.
        target_system_prompt: Text put before every sample's own system prompt (a blank
            line apart), or its system prompt when it has none.
        target_system_prompt_file: A file holding the target system prompt.

    """
    system_text = target_system_prompt_text(target_system_prompt, target_system_prompt_file)
    catalogue = _catalogue(scenarios, traits, graders)
    scorer_list, setup = conversation_scorers(
        scorers, catalogue.graders_dir, pressured_opening=True
    )
    samples, skipped = build_single_turn_samples(
        catalogue,
        items_per_scenario=int(items_per_scenario) if items_per_scenario else None,
        seed=int(seed),
    )
    return Task(
        dataset=capped_dataset(
            _with_target_prompt(samples, system_text), limit, "harness-single-turn"
        ),
        setup=setup,
        solver=dialogue(),
        scorer=scorer_list,
        metadata={
            "arm": "single_turn",
            "skipped_scenarios": skipped,
            "target_system_prompt": system_text,
            **catalogue_record(catalogue),
        },
    )


@task
def knowledge(
    scenarios: str | list[str] | None = None,
    traits: str | list[str] | None = None,
    items_per_scenario: int | None = None,
    limit: int | None = None,
    seed: int = 0,
    graders: str | None = None,
    target_system_prompt: str | None = None,
    target_system_prompt_file: str | None = None,
) -> Task:
    """Knowledge probe: does the model state the principle at stake? Scored 0-1 per answer.

    Asks each scenario's knowledge questions and each trait's own probes, and grades the
    answers with the trait's knowledge rubric (`grader` role), fail-closed.

    Args:
        scenarios: Scenario files or folders (default: the bundled `scenarios/`).
        traits: Only these traits.
        items_per_scenario: Only the first N items of each scenario (for questions that
            use item variables).
        limit: Only the first N samples, interleaved across traits.
        seed: Run seed; every sample derives its own seed from it.
        graders: Folder with rubrics and grader templates (default: the bundled `graders/`).
        target_system_prompt: Text put before every sample's own system prompt (a blank
            line apart), or its system prompt when it has none.
        target_system_prompt_file: A file holding the target system prompt.

    """
    system_text = target_system_prompt_text(target_system_prompt, target_system_prompt_file)
    catalogue = _catalogue(scenarios, traits, graders)
    samples = build_knowledge_samples(
        catalogue,
        items_per_scenario=int(items_per_scenario) if items_per_scenario else None,
        seed=int(seed),
    )
    return Task(
        dataset=capped_dataset(
            _with_target_prompt(samples, system_text), limit, "harness-knowledge"
        ),
        setup=require_roles("grader"),
        solver=dialogue(),
        scorer=knowledge_grader(graders=str(catalogue.graders_dir)),
        metadata={
            "arm": "knowledge",
            "target_system_prompt": system_text,
            **catalogue_record(catalogue),
        },
    )
