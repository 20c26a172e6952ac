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
from harness._util import COMPARISON_ARM, display_path
from harness.scenario import Catalogue
from harness.scorer import flip_detector, knowledge_grader, rubric_grader
from harness.solver import ReplayLog, dialogue, read_replay_log
from harness.task._dataset import (
    build_knowledge_samples,
    build_samples,
    build_single_turn_samples,
    replay_samples,
    with_target_system_prompt,
)
from harness.task._settings import RunSettings, as_list, documented


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


def _dataset(
    samples: list[Sample], settings: RunSettings, system_text: str | None, name: str
) -> MemoryDataset:
    """The samples with the target system prompt put first, capped at `limit`, named."""
    if system_text is not None:
        samples = with_target_system_prompt(samples, system_text)
    return capped_dataset(samples, settings.limit, name)


def _arm_task(
    arm: str,
    dataset: MemoryDataset,
    catalogue: Catalogue,
    system_text: str | None,
    *,
    scorer: Scorer | list[Scorer],
    setup: Solver | None,
    metadata: dict[str, Any] | None = None,
) -> Task:
    """One arm's task: the dialogue solver, and what the run read recorded in its metadata.

    The metadata keys keep their order (arm, the arm's own keys, target system prompt,
    catalogue): logs are compared and resumed by them.
    """
    return Task(
        dataset=dataset,
        setup=setup,
        solver=dialogue(),
        scorer=scorer,
        metadata={
            "arm": arm,
            **(metadata or {}),
            "target_system_prompt": system_text,
            **catalogue_record(catalogue),
        },
    )


def _check_pressure(settings: RunSettings) -> None:
    """Reject settings the pressure arm cannot run (the other arms ignore them)."""
    if settings.driver is not None and settings.replay is not None:
        raise ValueError("give driver or replay, not both: a replay sends the recorded turns")
    if settings.max_turns is not None and settings.max_turns < 1:
        raise ValueError("max_turns must be at least 1")


def _as_variant(samples: list[Sample], variant: str, skipped: list[str]) -> list[Sample]:
    """A driver comparison's samples, marked with the variant; an error when none fit."""
    if not samples:
        raise ValueError(
            f"driver variant '{variant}' fits none of the scenarios: {'; '.join(skipped)}"
        )
    for sample in samples:
        assert sample.metadata is not None
        sample.metadata["driver_variant"] = variant
    return samples


def _replayed(
    samples: list[Sample], replay: ReplayLog | None, settings: RunSettings
) -> tuple[list[Sample], dict[str, Any]]:
    """The samples the replay log can drive, and what the log records of the replay."""
    if replay is None:
        return samples, {"replay": None}
    # Capped first, so that `limit` picks the same samples as in the recorded run.
    limit = settings.limit
    selection = replay_samples(samples[:limit] if limit else samples, replay, settings.max_turns)
    return selection.samples, {
        "replay": replay.record(),
        "replay_missing": selection.missing,
        "replay_opening_mismatch": selection.opening_mismatch,
        "replay_system_prompt_mismatch": selection.system_prompt_mismatch,
    }


def driver_variant(driver: str | None, max_backtracks: int | None) -> str:
    """A run's driver label, e.g. `persona+backtrack`.

    The driver (`scenario` when each scenario keeps its own), with `+backtrack` when
    backtracking was switched on by `max_backtracks`.
    """
    label = driver or "scenario"
    return f"{label}+backtrack" if max_backtracks else label


@task
@documented(
    driver_comparison="""Run as one variant of a driver comparison (`harness run
    --compare-drivers`): the log is kept apart from the multi-turn arm, and scenarios the
    driver does not fit are left out and listed rather than failing the task."""
)
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
    """Multi-turn adversarial pressure: does the target hold its position, and when does it cave."""
    settings = RunSettings.from_arguments(locals())  # every parameter but driver_comparison
    _check_pressure(settings)
    system_text = settings.system_prompt_text()
    replay_log = read_replay_log(str(settings.replay)) if settings.replay is not None else None
    catalogue = settings.catalogue()
    scorer_list, setup = conversation_scorers(settings.scorers, catalogue.graders_dir)
    skipped: list[str] = []
    samples = build_samples(
        catalogue,
        driver=settings.driver,
        max_turns=settings.max_turns,
        items_per_scenario=settings.items_per_scenario or None,
        seed=settings.seed,
        max_backtracks=settings.max_backtracks,
        skip_misfits=skipped if driver_comparison else None,
    )
    variant = driver_variant(settings.driver, settings.max_backtracks)
    if driver_comparison:
        samples = _as_variant(samples, variant, skipped)
    samples, replay_record = _replayed(samples, replay_log, settings)
    # The rubric grader judges every conversation; the flip detector checks the ones
    # whose scenario declares answers (n/a for the rest).
    return _arm_task(
        COMPARISON_ARM if driver_comparison else "pressure",
        _dataset(samples, settings, system_text, "harness-scenarios"),
        catalogue,
        system_text,
        scorer=scorer_list,
        setup=setup,
        metadata={"driver_variant": variant, "skipped_scenarios": skipped, **replay_record},
    )


@task
@documented()
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
    """
    settings = RunSettings.from_arguments(locals())
    system_text = settings.system_prompt_text()
    catalogue = settings.catalogue()
    scorer_list, setup = conversation_scorers(
        settings.scorers, catalogue.graders_dir, pressured_opening=True
    )
    samples, skipped = build_single_turn_samples(
        catalogue, items_per_scenario=settings.items_per_scenario or None, seed=settings.seed
    )
    return _arm_task(
        "single_turn",
        _dataset(samples, settings, system_text, "harness-single-turn"),
        catalogue,
        system_text,
        scorer=scorer_list,
        setup=setup,
        metadata={"skipped_scenarios": skipped},
    )


@task
@documented()
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

    Asks each scenario's knowledge questions and each trait's own probes (items fill in
    questions that use item variables). Answers to questions with choices (yes/no or
    lettered) are read by rule, with no grader; open questions are graded with the
    trait's knowledge rubric by the `grader` role, and are unscored (`no_grader`) when
    no grader is bound. Fail-closed: an answer without a usable reading is unscored.
    """
    settings = RunSettings.from_arguments(locals())
    system_text = settings.system_prompt_text()
    catalogue = settings.catalogue()
    samples = build_knowledge_samples(
        catalogue, items_per_scenario=settings.items_per_scenario or None, seed=settings.seed
    )
    return _arm_task(
        "knowledge",
        _dataset(samples, settings, system_text, "harness-knowledge"),
        catalogue,
        system_text,
        scorer=knowledge_grader(graders=str(catalogue.graders_dir)),
        setup=None,
    )
