"""Reports from logs: the three-arm report, attacker strength, checkpoint comparison.

Written as JSON documents, Markdown and a self-contained HTML page.
"""

from harness.report._compare import (
    CompareInputError,
    Comparison,
    compare_checkpoints,
    load_checkpoint,
)
from harness.report._compare_markdown import compare_markdown, gate_verdict_line
from harness.report._excerpts import excerpts_for, violations_by_trait
from harness.report._html import render_html, write_html
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
    "NoArmLogs",
    "ReportError",
    "SeveralCheckpoints",
    "build_report",
    "compare_checkpoints",
    "compare_markdown",
    "excerpts_for",
    "gate_verdict_line",
    "knowledge_behaviour_gap",
    "load_checkpoint",
    "pressure_delta",
    "rate_cell",
    "render_html",
    "report_markdown",
    "tactic_strength",
    "violations_by_trait",
    "write_html",
]
