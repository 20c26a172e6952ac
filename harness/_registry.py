"""Inspect entry point: importing this registers the harness's tasks, scorers and providers."""

from harness._embedded import embedded
from harness._grading import rubric_grader
from harness._metrics import ci95, total
from harness._tasks import pressure

__all__ = ["ci95", "embedded", "pressure", "rubric_grader", "total"]
