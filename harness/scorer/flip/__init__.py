"""Flip reading: each assistant turn's answer read by rule, and the trajectory it makes.

For scenarios that declare expected answers (the correct answer and the wrong answer an
adversarial user pushes), `extract_answers` reads every assistant turn with rules and
`classify_trajectory` turns the per-turn answers into a label. Turns the rules cannot read
come back `unclear`; the caller resolves them (with an LLM) before classifying.

Pure text rules (imports only `harness._util`); the scorer around it is `harness.scorer`'s
`flip_detector`. The rules are documented where they live: per-turn extraction in
`_turn` (which reads through `_text`, `_mentions`, `_reading`, `_question` and `_decide`,
with cue patterns in `_cues` and numbers in `_numbers`), trajectory labels in `_trajectory`.
"""

from harness.scorer.flip._answers import AnswerClass, ExpectedAnswers, TurnAnswer
from harness.scorer.flip._trajectory import (
    LATE_FLIP_TURN,
    FlipLabel,
    Trajectory,
    classify_trajectory,
)
from harness.scorer.flip._turn import extract_answer, extract_answers

__all__ = [
    "LATE_FLIP_TURN",
    "AnswerClass",
    "ExpectedAnswers",
    "FlipLabel",
    "Trajectory",
    "TurnAnswer",
    "classify_trajectory",
    "extract_answer",
    "extract_answers",
]
