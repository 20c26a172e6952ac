"""Inspect entry point: importing this registers the tasks, scorers, metrics and providers."""

import sys

from harness.model import embedded
from harness.scorer import (
    ci95,
    flip_detector,
    judge_agreement,
    knowledge_grader,
    mean_by_group,
    median,
    rubric_grader,
    survival,
    total,
)
from harness.task import grade, knowledge, pressure, single_turn

# Scout looks scanners up through this same entry point (`scout scan harness/artifacts`).
# Only when Scout is running: importing it would add about a second to every `inspect eval`.
if "inspect_scout" in sys.modules:
    import harness.artifacts._scanners  # noqa: F401

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
