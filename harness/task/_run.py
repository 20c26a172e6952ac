"""Run the arms of one checkpoint as one inspect eval set (resumable), and read the logs back."""

from __future__ import annotations

from collections.abc import Sequence
from typing import Any

from inspect_ai import Task, eval_set
from inspect_ai.log import EvalLog, read_eval_log
from inspect_ai.model import GenerateConfig, Model, get_model

from harness._util import ARMS, DRIVERS
from harness.task._tasks import knowledge, pressure, single_turn

DEFAULT_BACKTRACKS = 2
"""Backtracking budget of a `+backtrack` driver variant when none is given."""


def parse_driver_variant(label: str, max_backtracks: int | None = None) -> tuple[str, int | None]:
    """`persona+backtrack` -> ("persona", N); `scripted` -> ("scripted", None).

    Raises:
        ValueError: an unknown driver or suffix.

    """
    driver, plus, suffix = label.strip().partition("+")
    if driver not in DRIVERS or (plus and suffix != "backtrack"):
        raise ValueError(
            f"unknown driver variant '{label}': use {', '.join(DRIVERS)}, optionally with "
            "'+backtrack' (e.g. persona+backtrack)"
        )
    if driver == "scripted" and plus:
        raise ValueError("'scripted+backtrack' has no attacker to back off: use persona or hybrid")
    if not plus:
        return driver, 0 if driver != "scripted" else None
    return driver, max_backtracks or DEFAULT_BACKTRACKS


def arm_tasks(
    arms: Sequence[str],
    *,
    scenarios: str | None = None,
    traits: str | None = None,
    items_per_scenario: int | None = None,
    limit: int | None = None,
    seed: int = 0,
    max_turns: int | None = None,
    driver: str | None = None,
    graders: str | None = None,
    replay: str | None = None,
    target_system_prompt: str | None = None,
    target_system_prompt_file: str | None = None,
    scorers: str | None = None,
    max_backtracks: int | None = None,
    compare_drivers: Sequence[str] = (),
) -> list[Task]:
    """The inspect tasks of the chosen arms, built with the same scenario selection.

    `compare_drivers` adds one pressure task per driver variant (`persona`,
    `persona+backtrack`, ...), logged apart from the multi-turn arm. Only arguments
    that are set are passed, so a task's identity (and so eval-set resumption) does
    not depend on defaults being spelled out.
    """
    common: dict[str, Any] = {
        "scenarios": scenarios,
        "traits": traits,
        "items_per_scenario": items_per_scenario,
        "limit": limit,
        "seed": seed,
        "graders": graders,
        "target_system_prompt": target_system_prompt,
        "target_system_prompt_file": target_system_prompt_file,
    }
    common = {k: v for k, v in common.items() if v is not None}
    pressure_only = {
        "max_turns": max_turns,
        "driver": driver,
        "replay": replay,
        "max_backtracks": max_backtracks,
    }
    extra: dict[str, Any] = {k: v for k, v in pressure_only.items() if v is not None}
    conversation: dict[str, Any] = {"scorers": scorers} if scorers is not None else {}
    factories: dict[str, Any] = {
        "pressure": lambda: pressure(**common, **extra, **conversation),
        "single_turn": lambda: single_turn(**common, **conversation),
        "knowledge": lambda: knowledge(**common),
    }
    tasks = [factories[arm]() for arm in ARMS if arm in arms]
    for label in dict.fromkeys(compare_drivers):
        variant_driver, backtracks = parse_driver_variant(label, max_backtracks)
        variant_args: dict[str, Any] = {"max_turns": max_turns, "max_backtracks": backtracks}
        task = pressure(
            **common,
            **{k: v for k, v in variant_args.items() if v is not None},
            driver=variant_driver,
            driver_comparison=True,
            **conversation,
        )
        tasks.append(task)
    return tasks


def with_attempt_timeout(roles: dict[str, Any], attempt_timeout: int | None) -> dict[str, Any]:
    """Role bindings whose models carry `attempt_timeout`.

    inspect passes `max_retries` and `timeout` on to role models but not
    `attempt_timeout`: without this a hung attacker or grader request would wait for
    the provider's own (10-minute) timeout.
    """
    if attempt_timeout is None:
        return roles
    config = GenerateConfig(attempt_timeout=attempt_timeout)

    def bind(model: Any) -> Any:
        return get_model(model, config=config, memoize=False) if isinstance(model, str) else model

    return {
        role: [bind(m) for m in bound] if isinstance(bound, list) else bind(bound)
        for role, bound in roles.items()
    }


def run_arms(
    tasks: list[Task],
    model: str | Model,
    roles: dict[str, Any],
    log_dir: str,
    *,
    checkpoint: str,
    max_tokens: int | None = None,
    temperature: float | None = None,
    max_connections: int | None = None,
    display: str = "none",
    retry_attempts: int = 2,
    attempt_timeout: int | None = None,
    max_retries: int | None = None,
    retry_on_error: int = 3,
    log_buffer: int = 1,
) -> list[EvalLog]:
    """Run `tasks` as one eval set in `log_dir` and return their full logs.

    Running again with the same tasks and `log_dir` reuses finished logs and resumes
    unfinished ones: samples that completed are not run again. Other runs' logs may
    share the folder. `attempt_timeout` (seconds) abandons and retries a model request
    that hangs; `max_retries` caps inspect's retries of a failed request.

    A sample that errors (e.g. a malformed provider reply, which inspect does not retry
    by itself) is run again up to `retry_on_error` times; one that still fails does not
    stop the others (`continue_on_fail`): the task ends as an error with every sample
    in its log, and the eval set's next attempt (or the next run) re-runs only those.

    The log file is rewritten after every `log_buffer` finished samples. At 1 (the
    default) a finished sample is in the log file as soon as it is scored, so a run
    killed outright (kill -9, a lost machine) loses no finished sample even without
    inspect's local sample buffer (under the user's data folder, from which a re-run
    on the same machine also recovers them). Each rewrite copies the whole file:
    raise it for runs of many thousands of samples.
    """
    _, headers = eval_set(
        tasks,
        log_dir=log_dir,
        model=model,
        model_roles=with_attempt_timeout(roles, attempt_timeout),
        max_tokens=max_tokens,
        temperature=temperature,
        max_connections=max_connections,
        attempt_timeout=attempt_timeout,
        max_retries=max_retries,
        display=display,  # type: ignore[arg-type]
        # Live metrics are recomputed about every second (deep copies of every score)
        # even when nothing shows them: only the full displays get them.
        score_display=display in ("full", "rich"),
        metadata={"checkpoint": checkpoint},
        retry_attempts=retry_attempts,
        retry_wait=5,
        retry_on_error=retry_on_error,
        continue_on_fail=True,
        log_buffer=log_buffer,
        log_dir_allow_dirty=True,
    )
    return [read_eval_log(h.location) for h in headers if h.location]
