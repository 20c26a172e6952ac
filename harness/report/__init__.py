"""Reports from logs: the three-arm report, attacker strength, checkpoint comparison.

Written as JSON documents, Markdown and a self-contained HTML page.
"""

from harness.report._compare import (
    CompareInputError,
    Comparison,
    GateDecision,
    compare_checkpoints,
    compare_pairs,
    judge_rows,
    load_checkpoint,
)
from harness.report._compare_markdown import compare_markdown, gate_verdict_line
from harness.report._excerpts import excerpts_for, violations_by_trait
from harness.report._html import render_comparison_html, render_html, write_html
from harness.report._markdown import rate_cell, report_markdown
from harness.report._report import (
    NoArmLogs,
    ReportError,
    SeveralCheckpoints,
    build_report,
    knowledge_behaviour_gap,
    pressure_delta,
)
from harness.report._strength import tactic_strength

__all__ = [
    "CompareInputError",
    "Comparison",
    "GateDecision",
    "NoArmLogs",
    "ReportError",
    "SeveralCheckpoints",
    "build_report",
    "compare_checkpoints",
    "compare_markdown",
    "compare_pairs",
    "excerpts_for",
    "gate_verdict_line",
    "judge_rows",
    "knowledge_behaviour_gap",
    "load_checkpoint",
    "pressure_delta",
    "rate_cell",
    "render_comparison_html",
    "render_html",
    "report_markdown",
    "tactic_strength",
    "violations_by_trait",
    "write_html",
]
