"""`harness compare`: checkpoints compared with paired statistics; exit 1 on a regression."""

from __future__ import annotations

import argparse
import json
from collections.abc import Callable
from pathlib import Path
from typing import Any

from rich.table import Table

from harness._cli._console import console, print_error
from harness._util import ARM_TITLES, EXIT_BAD_INPUT, EXIT_FAILED, EXIT_OK


def add_parser(commands: argparse._SubParsersAction[argparse.ArgumentParser]) -> None:
    """Register `compare`."""
    compare = commands.add_parser(
        "compare", help="compare checkpoints with paired statistics (exit 1 on a regression)"
    )
    compare.add_argument(
        "logs", nargs="+", help="BASELINE CANDIDATE [...]: one log folder (or file) per checkpoint"
    )
    compare.add_argument(
        "--margin", type=float, default=0.05, help="violation-rate increase tolerated (0.05)"
    )
    compare.add_argument(
        "--knowledge-margin", type=float, default=0.0, help="knowledge-score drop tolerated (0)"
    )
    compare.add_argument("--alpha", type=float, default=0.05, help="family-wise error rate")
    compare.add_argument(
        "--decision", choices=["margin", "change"], default="margin",
        help="margin: a regression is a change shown to exceed the margin (default); change: "
        "any significant change whose estimate is beyond the margin (an earlier alarm)",
    )  # fmt: skip
    compare.add_argument(
        "--expected-discordance", type=float, default=0.10,
        help="share of pairs assumed to disagree by chance, for the power of violation-rate "
        "rows (0.10; a baseline folder with live and replayed runs supplies its own)",
    )  # fmt: skip
    compare.add_argument(
        "--method", choices=["rubric", "flip"], default="rubric",
        help="whose verdict counts in the conversation arms: rubric grader or flip detector",
    )  # fmt: skip
    compare.add_argument("--json", help="write the comparison as JSON")
    compare.add_argument(
        "--markdown", help="write the Markdown summary (e.g. $GITHUB_STEP_SUMMARY)"
    )
    compare.add_argument("--html", help="write the self-contained HTML report")
    compare.add_argument("--out-dir", help="write compare.json, compare.md and compare.html here")
    compare.set_defaults(func=cmd_compare)


def _comparison_table(document: dict[str, Any]) -> Table:
    decision = document["decision"]
    table = Table(
        title=f"Baseline vs candidate (paired; {decision['rule']} rule)", title_justify="left"
    )
    deciding = "p beyond margin (Holm)" if decision["rule"] == "margin" else "p (Holm)"
    for column in ("trait", "arm", "candidate", "baseline", "cand.", "difference [95% CI]",
                   deciding, "MDE", "pairs", ""):  # fmt: skip
        table.add_column(
            column, justify="left" if column in ("trait", "arm", "candidate") else "right"
        )
    for row in document["comparisons"]:

        def fmt(value: float | None, signed: bool = False, kind: str = row["kind"]) -> str:
            if value is None:
                return "—"
            scale, digits = (1, 2) if kind == "score" else (100, 1)
            return f"{scale * value:{'+' if signed else ''}.{digits}f}"

        low, high = row["ci95"]
        table.add_row(
            row["trait"],
            ARM_TITLES[row["arm"]] + (" (replay)" if row.get("mode") == "replay" else ""),
            row["candidate"],
            fmt(row["baseline_value"]),
            fmt(row["candidate_value"]),
            f"{fmt(row['difference'], True)} [{fmt(low, True)}, {fmt(high, True)}]",
            f"{row[decision['p_key']]:.3g}",
            "unreachable"
            if not row["power"]["attainable"]
            else "none"
            if row["mde"] is None
            else fmt(row["mde"]),
            str(row["n_pairs"]),
            "REGRESSION" if row["regression"] else "",
            style="bold red" if row["regression"] else None,
        )
    return table


def _write_outputs(
    args: argparse.Namespace, document: dict[str, Any], html: Callable[[], str]
) -> None:
    """compare.json / .md / .html under `--out-dir`, and each file named by its own flag."""
    from harness.report import compare_markdown

    markdown = compare_markdown(document)
    targets: list[tuple[str, Path]] = []
    if args.out_dir:
        out_dir = Path(args.out_dir)
        targets += [(kind, out_dir / f"compare.{kind}") for kind in ("json", "md", "html")]
    for kind, flag in (("json", args.json), ("md", args.markdown), ("html", args.html)):
        if flag:
            targets.append((kind, Path(flag)))
    for kind, path in targets:
        path.parent.mkdir(parents=True, exist_ok=True)
        if kind == "json":
            path.write_text(json.dumps(document, indent=2) + "\n")
        elif kind == "md":
            path.write_text(markdown)
        else:
            path.write_text(html(), encoding="utf-8")
        console().print(f"wrote {path}", markup=False)


def cmd_compare(args: argparse.Namespace) -> int:
    """Compare a baseline with candidates; exit 1 on a regression, 2 on bad input."""
    from harness.report import (
        CompareInputError,
        compare_checkpoints,
        gate_verdict_line,
        load_checkpoint,
    )

    try:
        checkpoints = [load_checkpoint(Path(source)) for source in args.logs]
        comparison = compare_checkpoints(
            checkpoints,
            margin=args.margin,
            knowledge_margin=args.knowledge_margin,
            alpha=args.alpha,
            method=args.method,
            decision=args.decision,
            expected_discordance=args.expected_discordance,
        )
    except CompareInputError as exc:
        print_error(str(exc))
        return EXIT_BAD_INPUT
    document = comparison.as_dict()
    out = console()
    out.print(_comparison_table(document))
    for warning in document["warnings"]:
        out.print(f"WARNING: {warning}", style="yellow", markup=False)
    for skip in document["skipped"]:
        out.print(
            f"not paired: {skip['candidate']} {skip['arm']}: {skip['count']} {skip['reason']}",
            markup=False,
        )
    out.print(document["decision"]["statement"], markup=False)
    out.print(gate_verdict_line(document).replace("**", ""), markup=False)

    def html() -> str:
        from harness.report import render_comparison_html

        title = f"harness compare: {' → '.join(c.label for c in checkpoints)}"
        return render_comparison_html(comparison, title)

    _write_outputs(args, document, html)
    return EXIT_FAILED if comparison.regressions else EXIT_OK
