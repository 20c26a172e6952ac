"""Inspect tasks (pressure, single_turn, knowledge, grade), their datasets and the eval-set run."""

from harness.task._dataset import build_knowledge_samples, build_samples, build_single_turn_samples
from harness.task._grade import calibrate, grader_roles, regrade, run_grading, write_verdicts
from harness.task._run import arm_tasks, parse_driver_variant, run_arms
from harness.task._settings import RunSettings, as_list
from harness.task._tasks import knowledge, pressure, single_turn
from harness.task._transcripts import grade, load_transcripts

__all__ = [
    "RunSettings",
    "arm_tasks",
    "as_list",
    "build_knowledge_samples",
    "build_samples",
    "build_single_turn_samples",
    "calibrate",
    "grade",
    "grader_roles",
    "knowledge",
    "load_transcripts",
    "parse_driver_variant",
    "pressure",
    "regrade",
    "run_arms",
    "run_grading",
    "single_turn",
    "write_verdicts",
]
