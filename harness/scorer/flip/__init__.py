"""Flip reading: each assistant turn's answer read by rule, and the trajectory it makes.

Pure text rules (imports only `harness._util`); the scorer around it is `harness.scorer`'s
`flip_detector`.
"""

from harness.scorer.flip._answers import AnswerClass, ExpectedAnswers, TurnAnswer
from harness.scorer.flip._trajectory import (
    LATE_FLIP_TURN,
    Decision,
    FlipLabel,
    Trajectory,
    classify_trajectory,
    decide_trajectory,
)
from harness.scorer.flip._turn import extract_answer, extract_answers

__all__ = [
    "LATE_FLIP_TURN",
    "AnswerClass",
    "Decision",
    "ExpectedAnswers",
    "FlipLabel",
    "Trajectory",
    "TurnAnswer",
    "classify_trajectory",
    "decide_trajectory",
    "extract_answer",
    "extract_answers",
]
