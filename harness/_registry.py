"""Inspect entry point: importing this registers the tasks, scorers, metrics and providers."""

import sys

from harness._embedded import embedded
from harness._flip_scoring import flip_detector
from harness._grading import rubric_grader
from harness._knowledge import knowledge_grader
from harness._metrics import ci95, judge_agreement, mean_by_group, median, survival, total
from harness._tasks import knowledge, pressure, single_turn
from harness._transcripts import grade

# Scout looks scanners up through this same entry point (`scout scan harness/artifacts`).
# Only when Scout is running: importing it would add about a second to every `inspect eval`.
if "inspect_scout" in sys.modules:
    import harness._artifact_scanners  # noqa: F401

__all__ = [
    "ci95",
    "embedded",
    "flip_detector",
    "grade",
    "judge_agreement",
    "knowledge",
    "knowledge_grader",
    "mean_by_group",
    "median",
    "pressure",
    "rubric_grader",
    "single_turn",
    "survival",
    "total",
]
