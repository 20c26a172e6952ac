"""`harness run`: the three arms of one checkpoint as one resumable eval set, then the report."""

from __future__ import annotations

import argparse
import sys
from pathlib import Path
from typing import TYPE_CHECKING

from harness._cli._console import console, print_error, print_problems
from harness._cli._report import write_report
from harness._util import (
    ARMS,
    DISPLAYS,
    DRIVERS,
    EXIT_BAD_INPUT,
    EXIT_FAILED,
    EXIT_OK,
    ValidationFailed,
)

if TYPE_CHECKING:
    from inspect_ai.dataset import Sample

    from harness.task import RunSettings

Parser = argparse.ArgumentParser


def add_parser(commands: argparse._SubParsersAction[argparse.ArgumentParser]) -> None:
    """Register `run`."""
    run = commands.add_parser(
        "run", help="run the three arms (knowledge, single-turn, multi-turn) on one checkpoint"
    )
    run.add_argument("--model", required=True, help="model under test, e.g. vllm/my-ckpt")
    run.add_argument(
        "--grader",
        help="grader model (required by the rubric grader; knowledge questions with choices "
        "need none); a comma-separated list is a panel",
    )
    run.add_argument("--attacker", help="attacker model (persona/hybrid drivers)")
    _add_selection_arguments(run)
    _add_execution_arguments(run)
    _add_output_arguments(run)
    run.set_defaults(func=cmd_run)


def _add_selection_arguments(run: Parser) -> None:
    """Which scenarios, arms and drivers run (the flags `RunSettings` is built from)."""
    run.add_argument("--scenarios", help="scenario files/folders, comma-separated")
    run.add_argument("--traits", help="only these traits, comma-separated")
    run.add_argument("--driver", choices=DRIVERS)
    run.add_argument("--max-turns", type=int)
    run.add_argument(
        "--max-backtracks",
        type=int,
        help="let the attacker roll back up to N resisted exchanges per conversation (0: never)",
    )
    run.add_argument(
        "--compare-drivers",
        help="also run the pressure arm under each driver, comma-separated "
        "(e.g. scripted,persona,persona+backtrack); compared in the report",
    )
    run.add_argument("--items-per-scenario", type=int, help="first N items of each scenario")
    run.add_argument("--limit", type=int, help="at most N samples per arm (spread over traits)")
    run.add_argument(
        "--arms", help="comma-separated subset of pressure,single_turn,knowledge (default: all)"
    )


def _add_execution_arguments(run: Parser) -> None:
    """Retries, seed, sampling and connection limits of the eval set."""
    run.add_argument(
        "--retry-attempts", type=int, default=2, help="eval-set retries of a failed task"
    )
    run.add_argument("--seed", type=int, default=0)
    run.add_argument("--max-tokens", type=int, help="max tokens per model reply")
    run.add_argument(
        "--temperature", type=float, help="target sampling temperature (0: greedy, reproducible)"
    )
    run.add_argument("--max-connections", type=int, help="concurrent requests per model")
    run.add_argument(
        "--attempt-timeout", type=int, help="seconds before a hung model request is retried"
    )
    run.add_argument("--max-retries", type=int, help="retries of a failed model request")
    run.add_argument(
        "--retry-on-error", type=int, default=3, help="re-runs of a sample that errors"
    )
    run.add_argument(
        "--log-buffer",
        type=int,
        default=1,
        help="finished samples per rewrite of the log file (1: none lost if the run is killed)",
    )


def _add_output_arguments(run: Parser) -> None:
    """Logs, the checkpoint label, replay, the target system prompt, scorers and display."""
    run.add_argument("--log-dir", default="logs")
    run.add_argument("--checkpoint", help="label recorded in the log (default: --model)")
    run.add_argument(
        "--replay", help="pressure arm: re-send this log's user turns instead of ladder/attacker"
    )
    run.add_argument("--target-system-prompt", help="text put before every sample's system prompt")
    run.add_argument("--target-system-prompt-file", help="the same, read from a file")
    run.add_argument(
        "--scorers",
        help="conversation arms: rubric,flip (default both); flip alone needs no grader there",
    )
    run.add_argument("--display", default="rich" if sys.stdout.isatty() else "plain",
                     choices=DISPLAYS)  # fmt: skip


def _flag_problem(args: argparse.Namespace, settings: RunSettings, arms: list[str]) -> str | None:
    """What is wrong with the flags before any file is read (None when nothing)."""
    from harness.task import as_list

    # The knowledge arm reads answers to questions with choices by rule; without a grader
    # its open questions are unscored (`no_grader`), never graded by the target.
    conversations = any(a in arms for a in ("pressure", "single_turn"))
    conversations = conversations or bool(getattr(args, "compare_drivers", None))
    needs_grader = conversations and "rubric" in (as_list(settings.scorers) or ["rubric"])
    if needs_grader and not args.grader:
        return (
            "no grader model. Bind one with --grader MODEL (e.g. "
            "anthropic/claude-sonnet-4-5). To grade with the model under test, pass it "
            "explicitly as --grader."
        )
    unknown = [a for a in arms if a not in ARMS]
    if unknown:
        return f"unknown arm(s) {', '.join(unknown)}; choose from {', '.join(ARMS)}"
    return None


def _samples(settings: RunSettings) -> list[Sample] | None:
    """The pressure arm's samples, to check the scenarios early; None (printed) when invalid."""
    from harness.task import build_samples

    try:
        return build_samples(
            settings.catalogue(), driver=settings.driver, max_turns=settings.max_turns,
            items_per_scenario=settings.items_per_scenario,
        )  # fmt: skip
    except ValidationFailed as exc:
        print_problems(exc)
    except ValueError as exc:
        print_error(str(exc))
    return None


def _attacker_problem(
    args: argparse.Namespace, arms: list[str], samples: list[Sample], variants: list[str]
) -> str | None:
    """Why the run needs an `--attacker` it was not given (None when it does not)."""
    from harness.solver import needs_attacker

    if (
        "pressure" in arms
        and not args.attacker
        and not args.replay
        and any(needs_attacker(s.metadata or {}) for s in samples[: args.limit or None])
    ):
        return (
            "these scenarios use an attacker persona: bind one with --attacker MODEL, "
            "or use --driver scripted."
        )
    if not args.attacker and any(v.split("+")[0] in ("persona", "hybrid") for v in variants):
        return "--compare-drivers with persona or hybrid needs an attacker: --attacker MODEL"
    return None


def cmd_run(args: argparse.Namespace) -> int:
    """Run the three arms for one checkpoint as one resumable eval set, then report."""
    from harness.task import RunSettings, arm_tasks, as_list, grader_roles, run_arms

    # The run flags that are task settings share their names (e.g. --max-turns).
    settings = RunSettings.from_arguments(vars(args))
    arms = as_list(args.arms) or list(ARMS)
    problem = _flag_problem(args, settings, arms)
    if problem is not None:
        print_error(problem)
        return EXIT_BAD_INPUT
    if "knowledge" in arms and not args.grader:
        console(stderr=True).print(
            "note: no grader: knowledge questions with choices are read by rule; open "
            "questions are unscored (no_grader).",
            markup=False,
        )
    samples = _samples(settings)
    if samples is None:
        return EXIT_BAD_INPUT
    variants = as_list(args.compare_drivers) or []
    problem = _attacker_problem(args, arms, samples, variants)
    if problem is not None:
        print_error(problem)
        return EXIT_BAD_INPUT
    roles: dict[str, str | list[str]] = grader_roles(args.grader) if args.grader else {}
    if args.attacker:
        roles["attacker"] = args.attacker
    try:
        tasks = arm_tasks(settings, arms, variants)
    except (ValueError, OSError) as exc:
        print_error(str(exc))
        return EXIT_BAD_INPUT
    logs = run_arms(
        tasks,
        args.model,
        roles,
        args.log_dir,
        checkpoint=args.checkpoint or args.model,
        max_tokens=args.max_tokens,
        temperature=args.temperature,
        max_connections=args.max_connections,
        display=args.display,
        retry_attempts=args.retry_attempts,
        attempt_timeout=args.attempt_timeout,
        max_retries=args.max_retries,
        retry_on_error=args.retry_on_error,
        log_buffer=args.log_buffer,
    )
    write_report(logs, [Path(args.log_dir)], Path(args.log_dir))
    if len(logs) < len(arms) or any(log.status != "success" for log in logs):
        return EXIT_FAILED
    return EXIT_OK
