"""`harness report`: the three-arm report of finished logs (also printed after `harness run`)."""

from __future__ import annotations

import argparse
import json
from pathlib import Path
from typing import TYPE_CHECKING, Any

from rich.table import Table

from harness._cli._console import console, print_error
from harness._cli._summary import attach_calibration, print_summary
from harness._util import EXIT_BAD_INPUT, EXIT_OK

if TYPE_CHECKING:
    from inspect_ai.log import EvalLog


def add_parser(commands: argparse._SubParsersAction[argparse.ArgumentParser]) -> None:
    """Register `report`."""
    report = commands.add_parser("report", help="summarise finished logs")
    report.add_argument("logs", nargs="+", help="log files or folders")
    report.add_argument("--json", help="also write the report as JSON to this file")
    report.add_argument(
        "--out-dir", help="where report.json and report.md go (default: the one log folder given)"
    )
    report.add_argument("--traits-only", action="store_true", help="omit the per-scenario table")
    report.set_defaults(func=cmd_report)


def _difference_cell(difference: dict[str, Any]) -> str:
    """A difference of rates in points with a compact interval: `+12.5 [+3, +22]`."""
    value, (low, high) = difference["value"], difference["ci95"]
    if value is None:
        return "—"
    ci = "" if low is None else f" [{100 * low:+.0f}, {100 * high:+.0f}]"
    return f"{100 * value:+.1f}{ci}"


def _report_table(report: dict[str, Any]) -> Table:
    from harness.report import rate_cell

    table = Table(title="Three arms, per trait", title_justify="left")
    for column in ("trait", "knowledge", "single-turn violation", "multi-turn violation",
                   "pressure delta, pp [95% CI]", "knowledge-behaviour gap, pp [95% CI]",
                   "unscored K/S/M"):  # fmt: skip
        table.add_column(column, justify="left" if column == "trait" else "right")
    for name, trait in report["traits"].items():
        knowledge = trait["knowledge_score"] or {}
        cells = [rate_cell(trait[key], with_ci=False) for key in ("single_turn", "multi_turn")]
        delta, gap = trait["pressure_delta"], trait["knowledge_behaviour_gap"]
        unscored = "/".join(
            str(trait[k]["unscored"]) if trait[k] else "—"
            for k in ("knowledge_score", "single_turn", "multi_turn")
        )
        table.add_row(
            name,
            "—" if knowledge.get("value") is None else f"{knowledge['value']:.2f}",
            *cells,
            _difference_cell(delta),
            _difference_cell(gap),
            unscored,
        )
    return table


def write_report(
    logs: list[EvalLog], folders: list[Path], out_dir: Path | None, by_scenario: bool = True
) -> dict[str, Any] | None:
    """Build the three-arm report from full logs, print it, write report.json and report.md.

    Returns the report document, or None when the logs hold no arm (then only the
    pressure-style summary is printed, as for logs of other tasks).

    Raises:
        SeveralCheckpoints: when the logs are of more than one checkpoint.

    """
    from harness.log import latest_samples, summarise
    from harness.report import (
        NoArmLogs,
        build_report,
        report_markdown,
        violations_by_trait,
        write_html,
    )

    try:
        report = build_report(logs, {})
    except NoArmLogs:
        summary = summarise(logs)
        attach_calibration(summary, folders)
        print_summary(summary, by_scenario=by_scenario)
        return None
    by_arm = latest_samples(logs)
    pressure_logs = by_arm.get("pressure") or by_arm.get("single_turn") or []
    summary = summarise(pressure_logs)
    attach_calibration(summary, folders)
    report.traits = {
        name: {**trait, "grader_calibration": summary.calibration.get(name)}
        for name, trait in report.traits.items()
    }
    document = report.as_dict()
    if report.pressure is not None:
        print_summary(summary, by_scenario=by_scenario)
    out = console()
    out.print(_report_table(document))
    if out_dir is not None:
        out_dir.mkdir(parents=True, exist_ok=True)
        (out_dir / "report.json").write_text(json.dumps(document, indent=2) + "\n")
        (out_dir / "report.md").write_text(report_markdown(document))
        excerpts = violations_by_trait(
            by_arm.get("pressure", []), report.checkpoint, 2, summary.scorer
        )
        write_html(
            out_dir / "report.html",
            [document],
            excerpts=excerpts,
            title=f"harness report: {report.checkpoint}",
        )
        out.print(
            f"report: {out_dir / 'report.md'}, {out_dir / 'report.json'} and "
            f"{out_dir / 'report.html'}",
            markup=False,
        )
    return document


def cmd_report(args: argparse.Namespace) -> int:
    """Summarise finished logs (files or folders); rebuild the three-arm report."""
    from harness.log import read_logs
    from harness.report import SeveralCheckpoints

    try:
        logs = read_logs([Path(p) for p in args.logs])
    except (OSError, ValueError) as exc:
        print_error(f"cannot read logs: {exc}")
        return EXIT_BAD_INPUT
    if not logs:
        print_error("no logs found")
        return EXIT_BAD_INPUT
    folders = [Path(p) if Path(p).is_dir() else Path(p).parent for p in args.logs]
    out_dir = Path(args.out_dir) if args.out_dir else (folders[0] if len(args.logs) == 1 else None)
    try:
        document = write_report(
            logs, [*folders, *(f.parent for f in folders)], out_dir, not args.traits_only
        )
    except SeveralCheckpoints as exc:
        print_error(str(exc))
        return EXIT_BAD_INPUT
    if args.json:
        from harness.log import summarise

        payload = document if document is not None else summarise(logs).as_dict()
        Path(args.json).write_text(json.dumps(payload, indent=2) + "\n")
    return EXIT_OK
