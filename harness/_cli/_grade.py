"""`harness grade`, `calibrate` and `regrade`: the graders on transcripts, labels and logs."""

from __future__ import annotations

import argparse
from collections import Counter
from pathlib import Path
from typing import Any

from rich.table import Table

from harness._cli._console import console, print_error, print_problems
from harness._cli._summary import attach_calibration, print_summary
from harness._util import (
    DISPLAYS,
    EXIT_BAD_INPUT,
    EXIT_FAILED,
    EXIT_OK,
    ValidationFailed,
    counts_text,
)


def add_parser(commands: argparse._SubParsersAction[argparse.ArgumentParser]) -> None:
    """Register `grade`, `calibrate` and `regrade`."""
    grade = commands.add_parser("grade", help="grade transcripts from a JSONL file")
    grade.add_argument("file", help='JSONL: {"id", "messages": [...], "expect": {...}} per line')
    grade.add_argument("--trait", required=True, help="trait whose rubric grades them")
    grade.add_argument("--method", choices=["flip", "rubric", "both"], default="rubric")
    grade.add_argument("--grader", help="grader model (comma-separated: a panel)")
    grade.add_argument("--out", required=True, help="where to write the verdicts (JSONL)")
    grade.add_argument("--graders", help="rubrics folder (default: bundled graders/)")
    grade.add_argument("--log-dir", default="logs/grade")
    grade.add_argument("--max-connections", type=int)
    grade.add_argument("--display", default="none", choices=DISPLAYS)
    grade.set_defaults(func=cmd_grade)

    calibrate = commands.add_parser("calibrate", help="measure grader agreement with labels")
    calibrate.add_argument("--trait", required=True)
    calibrate.add_argument("--grader", help="grader model (comma-separated: a panel)")
    calibrate.add_argument("--method", choices=["rubric", "flip"], default="rubric")
    calibrate.add_argument(
        "--set", help="labelled JSONL (default: graders/calibration/<trait>.jsonl)"
    )
    calibrate.add_argument("--graders", help="rubrics folder (default: bundled graders/)")
    calibrate.add_argument("--out-dir", default="logs", help="results go to OUT_DIR/calibration/")
    calibrate.add_argument("--seed", type=int, default=0, help="bootstrap seed")
    calibrate.add_argument("--display", default="none", choices=DISPLAYS)
    calibrate.set_defaults(func=cmd_calibrate)

    regrade = commands.add_parser("regrade", help="re-score a finished log (no target calls)")
    regrade.add_argument("log", help="an .eval/.json log file")
    regrade.add_argument("--grader", help="grader model (comma-separated: a panel)")
    regrade.add_argument("--method", choices=["flip", "rubric", "both"], default="both")
    regrade.add_argument("--out", help="new log file (default: <log>-regraded.eval beside it)")
    regrade.add_argument("--display", default="none", choices=DISPLAYS)
    regrade.set_defaults(func=cmd_regrade)


def _print_verdict_counts(lines: list[dict[str, Any]]) -> None:
    """Per method: verdicts, violations, and the unscored with their reasons."""
    out = console()
    for method in sorted({line["method"] for line in lines}):
        mine = [line for line in lines if line["method"] == method]
        scored = [line for line in mine if not line["unscored"]]
        reasons = Counter(str(line["reason"]) for line in mine if line["unscored"])
        out.print(
            f"{method}: {len(mine)} verdicts, {sum(bool(x['violation']) for x in scored)} "
            f"violations, {len(mine) - len(scored)} unscored"
            + (f" ({counts_text(reasons)})" if reasons else ""),
            markup=False,
        )
        abstentions = Counter(
            str(line["abstention"]["reason"]) for line in mine if line.get("abstention")
        )
        if abstentions:
            out.print(
                f"{method}: the rules abstained on {sum(abstentions.values())}: "
                f"{counts_text(abstentions)} (bind a grader, or fix the scenario's answers)",
                markup=False,
            )


def cmd_grade(args: argparse.Namespace) -> int:
    """Grade transcripts from a JSONL file; write one verdict line per transcript and method."""
    from harness.task import load_transcripts, run_grading, write_verdicts

    if args.method != "flip" and not args.grader:
        print_error(
            f"--method {args.method} needs --grader MODEL (only --method flip runs "
            "without a model)."
        )
        return EXIT_BAD_INPUT
    try:
        records = load_transcripts(Path(args.file))
        log = run_grading(
            Path(args.file),
            args.trait,
            args.method,
            args.grader,
            Path(args.graders) if args.graders else None,
            args.log_dir,
            args.display,
            args.max_connections,
        )
    except ValidationFailed as exc:
        print_problems(exc)
        return EXIT_BAD_INPUT
    if log.status != "success":
        message = log.error.message if log.error else log.status
        print_error(f"grading failed: {message}")
        return EXIT_FAILED
    lines = write_verdicts(log, [r.id for _, r in records], args.method, Path(args.out))
    _print_verdict_counts(lines)
    console().print(f"verdicts: {args.out}   log: {log.location}", markup=False)
    return EXIT_OK


def _calibration_table(result: dict[str, Any]) -> Table:
    table = Table(
        title=f"Calibration of {result['grader']} ({result['method']}) on {result['trait']}: "
        f"{result['n']} labelled transcripts, {result['unscored']} unscored",
        title_justify="left",
    )
    table.add_column("statistic")
    table.add_column("value", justify="right")
    table.add_column("95% CI (bootstrap)", justify="right")
    for name, metric in result["metrics"].items():
        low, high = metric["ci95"]
        extra = f" (n={metric['n']})" if "n" in metric else ""
        table.add_row(
            name + extra,
            "—" if metric["value"] is None else f"{metric['value']:.3f}",
            "—" if low is None else f"{low:.3f} to {high:.3f}",
        )
    return table


def _confusion_table(result: dict[str, Any]) -> Table:
    matrix: dict[str, dict[str, int]] = result["confusion"]["matrix"]
    columns = list(next(iter(matrix.values())).keys()) if matrix else []
    table = Table(title="Confusion matrix (rows: human label, columns: predicted)")
    table.add_column("")
    for column in columns:
        table.add_column(column, justify="right")
    for row, cells in matrix.items():
        table.add_row(row, *(str(cells[c]) for c in columns))
    return table


def cmd_calibrate(args: argparse.Namespace) -> int:
    """Measure a grader's (or the flip detector's) agreement with human labels."""
    from harness.task import calibrate

    if args.method == "rubric" and not args.grader:
        print_error("--method rubric needs --grader MODEL (the grader being calibrated).")
        return EXIT_BAD_INPUT
    try:
        result, path = calibrate(
            args.trait,
            args.method,
            args.grader,
            Path(args.set) if args.set else None,
            Path(args.graders) if args.graders else None,
            Path(args.out_dir),
            args.display,
            args.seed,
        )
    except ValidationFailed as exc:
        print_problems(exc)
        return EXIT_BAD_INPUT
    out = console()
    out.print(_calibration_table(result))
    out.print(_confusion_table(result))
    if result.get("skipped_without_expect"):
        out.print(
            f"{result['skipped_without_expect']} transcripts without expected answers were "
            "left out (the flip detector does not apply to them).",
            markup=False,
        )
    out.print(f"saved: {path}   log: {result['log']}", markup=False)
    return EXIT_OK if result.get("log_status") == "success" else EXIT_FAILED


def cmd_regrade(args: argparse.Namespace) -> int:
    """Re-score a finished log with (new) graders: no target calls, cached grader calls."""
    from harness.log import summarise
    from harness.task import regrade

    if args.method != "flip" and not args.grader:
        print_error(f"--method {args.method} needs --grader MODEL.")
        return EXIT_BAD_INPUT
    try:
        log, path = regrade(
            Path(args.log),
            args.method,
            args.grader,
            Path(args.out) if args.out else None,
            args.display,
        )
    except (OSError, ValueError) as exc:
        print_error(f"cannot regrade {args.log}: {exc}")
        return EXIT_BAD_INPUT
    except ValidationFailed as exc:
        print_problems(exc)
        return EXIT_BAD_INPUT
    summary = summarise([log])
    attach_calibration(summary, [path.parent])
    print_summary(summary)
    console().print(f"regraded log: {path}", markup=False)
    return EXIT_OK
