"""`harness artifacts`: tables and the command's flow (the parser lives in cli.py)."""

from __future__ import annotations

import argparse
import json
from pathlib import Path

from rich.console import Console
from rich.table import Table

from harness._util import EXIT_BAD_INPUT, EXIT_OK, ValidationFailed, pct
from harness.artifacts import (
    ArtifactsReport,
    ArtifactsSettings,
    EmbedderUnavailable,
    FilterError,
    FilterResult,
    PatternRow,
    analyse_artifacts,
    autorate_args_problem,
    run_autorate,
    write_filtered,
)


def _ratio(row: PatternRow) -> str:
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


def run_artifacts(args: argparse.Namespace, console: Console, err: Console) -> int:
    """Scan sources, print the table, optionally filter and write JSON; exit 0 or 2."""
    if bool(args.drop) != bool(args.write_filtered):
        err.print(
            "error: --write-filtered OUT.jsonl and --drop PATTERN... go together", markup=False
        )
        return EXIT_BAD_INPUT
    unusable = autorate_args_problem(args.autorate, args.grader)
    if unusable:
        err.print(f"error: {unusable}", markup=False)
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
        err.print(f"error: {exc}", markup=False)
        return EXIT_BAD_INPUT
    try:
        analysis = analyse_artifacts(
            sources, [Path(p) for p in args.baseline] if args.baseline else None, settings
        )
    except ValidationFailed as exc:
        for problem in exc.problems:
            err.print(str(problem), markup=False)
        err.print(f"{len(exc.problems)} problem(s) found", style="red", markup=False)
        return EXIT_BAD_INPUT
    except EmbedderUnavailable as exc:
        err.print(f"error: {exc}", markup=False)
        return EXIT_BAD_INPUT
    report = analysis.report
    console.print(patterns_table(report))
    if any(row.continuity_corrected for row in report.patterns):
        console.print(
            "* a count is 0: 0.5 added to every cell of the 2x2 table (Haldane-Anscombe)",
            markup=False,
        )
    flagged = [row.name for row in report.patterns if row.flagged]
    console.print(
        f"{len(flagged)} flagged pattern(s)" + (f": {', '.join(flagged)}" if flagged else ""),
        markup=False,
    )
    if args.autorate:
        rated = run_autorate(report, args.grader, console, err)
        if rated is None:
            return EXIT_BAD_INPUT
        report = rated
    document = report.model_dump(mode="json")
    if args.write_filtered:
        try:
            result = write_filtered(analysis, sources, args.drop or [], Path(args.write_filtered))
        except FilterError as exc:
            err.print(f"error: {exc}", markup=False)
            return EXIT_BAD_INPUT
        console.print(filter_table(result))
        document["filter"] = result.as_dict()
    if args.json:
        path = Path(args.json)
        path.parent.mkdir(parents=True, exist_ok=True)
        path.write_text(json.dumps(document, indent=2, ensure_ascii=False) + "\n", encoding="utf-8")
        console.print(f"wrote {path}", markup=False)
    return EXIT_OK
