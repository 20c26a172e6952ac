"""Which arm and checkpoint a log is of, and the newest result of each sample.

A log folder may hold resumed or repeated runs, several arms and driver comparisons: these
functions pick what a report counts, from the logs' metadata alone.
"""

from __future__ import annotations

from collections.abc import Sequence
from pathlib import Path

from inspect_ai.log import EvalLog, EvalSample

from harness._util import ARMS, COMPARISON_ARM


def local_paths(locations: Sequence[str]) -> list[Path]:
    """Local paths of log locations (inspect may prefix them with `file://`)."""
    return [Path(loc.removeprefix("file://")) for loc in dict.fromkeys(locations)]


def arm_of(log: EvalLog) -> str | None:
    """Which arm a log belongs to: the task's `arm` metadata, else its task name."""
    arm = (log.eval.metadata or {}).get("arm")
    if arm is not None:
        # e.g. a driver-comparison run of harness/pressure: not the multi-turn arm.
        return str(arm) if arm in ARMS else None
    name = log.eval.task.rsplit("/", 1)[-1]
    return name if name in ARMS else None


def checkpoint_of(log: EvalLog) -> str:
    """The checkpoint label recorded by `harness run` (`--checkpoint`), else the model."""
    return str((log.eval.metadata or {}).get("checkpoint") or log.eval.model)


def variant_of(log: EvalLog) -> str:
    """The driver label of a driver-comparison log (see `harness.task._tasks.driver_variant`)."""
    return str((log.eval.metadata or {}).get("driver_variant") or "scenario")


def latest_samples(logs: list[EvalLog]) -> dict[str, list[EvalLog]]:
    """Logs per arm, each sample kept only in the newest log that has it.

    A log folder may hold a resumed or repeated run: the newest result of each sample
    (id and epoch) counts once.
    """
    by_arm: dict[str, list[EvalLog]] = {}
    for log in sorted(logs, key=lambda item: item.eval.created, reverse=True):
        arm = arm_of(log)
        if arm is not None:
            by_arm.setdefault(arm, []).append(log)
    result: dict[str, list[EvalLog]] = {}
    for arm, arm_logs in by_arm.items():
        seen: set[tuple[str, int]] = set()
        kept_logs: list[EvalLog] = []
        for log in arm_logs:
            kept: list[EvalSample] = []
            for sample in log.samples or []:
                key = (str(sample.id), sample.epoch)
                if key not in seen:
                    seen.add(key)
                    kept.append(sample)
            kept_logs.append(log.model_copy(update={"samples": kept}))
        result[arm] = kept_logs
    return result


def latest_variant_samples(logs: list[EvalLog]) -> list[EvalLog]:
    """The driver-comparison logs, each sample kept once per driver variant (newest)."""
    seen: set[tuple[str, str, int]] = set()
    kept_logs: list[EvalLog] = []
    for log in sorted(logs, key=lambda item: item.eval.created, reverse=True):
        if (log.eval.metadata or {}).get("arm") != COMPARISON_ARM:
            continue
        kept: list[EvalSample] = []
        for sample in log.samples or []:
            key = (variant_of(log), str(sample.id), sample.epoch)
            if key not in seen:
                seen.add(key)
                kept.append(sample)
        kept_logs.append(log.model_copy(update={"samples": kept}))
    return kept_logs
