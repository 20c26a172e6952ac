"""Run the arms of one checkpoint as one inspect eval set (resumable), and read the logs back."""

from __future__ import annotations

from collections.abc import Callable, Sequence
from dataclasses import replace
from typing import Any

from inspect_ai import Task, eval_set
from inspect_ai.log import EvalLog, read_eval_log
from inspect_ai.model import GenerateConfig, Model, get_model

from harness._util import ARMS, DRIVERS
from harness.scenario import Driver
from harness.task._settings import RunSettings
from harness.task._tasks import knowledge, pressure, single_turn

DEFAULT_BACKTRACKS = 2
"""Backtracking budget of a `+backtrack` driver variant when none is given."""


def parse_driver_variant(
    label: str, max_backtracks: int | None = None
) -> tuple[Driver, int | None]:
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
    settings: RunSettings, arms: Sequence[str] = ARMS, compare_drivers: Sequence[str] = ()
) -> list[Task]:
    """The inspect tasks of the chosen arms, all built from the same `settings`.

    Each task is passed the settings it takes that are set (`RunSettings.task_args`).
    `compare_drivers` adds one pressure task per driver variant (`persona`,
    `persona+backtrack`, ...), logged apart from the multi-turn arm; a variant is a
    live run, never a replay.

    Raises:
        ValueError: an unknown driver variant, or settings a task rejects.

    """
    factories: dict[str, Callable[..., Task]] = {
        "pressure": pressure,
        "single_turn": single_turn,
        "knowledge": knowledge,
    }
    tasks = [factories[arm](**settings.task_args(factories[arm])) for arm in ARMS if arm in arms]
    for label in dict.fromkeys(compare_drivers):
        driver, backtracks = parse_driver_variant(label, settings.max_backtracks)
        variant = replace(settings, driver=driver, max_backtracks=backtracks, replay=None)
        tasks.append(pressure(**variant.task_args(pressure), driver_comparison=True))
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
