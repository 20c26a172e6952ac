"""Verdicts: grader calls (fail-closed), rubric and knowledge graders, panels, metrics, calibration.

The flip detector's rules live in `harness.scorer.flip`; its scorer is `flip_detector`.
"""

from harness.scorer._calibration import (
    UNSCORED,
    CalibrationCase,
    calibration_brief,
    calibration_result,
    find_calibration,
    prompt_fingerprint,
    save_calibration,
)
from harness.scorer._flip import detect_flips, flip_detector
from harness.scorer._grader_calls import ask_grader
from harness.scorer._knowledge import knowledge_grader
from harness.scorer._metrics import (
    ci95,
    judge_agreement,
    mean_by_group,
    median,
    survival,
    survival_curve,
    survival_observation,
    total,
    wilson_interval,
)
from harness.scorer._rubric import RubricSet, grade_conversation, rubric_grader
from harness.scorer._verdicts import (
    UnscoredReason,
    VerdictError,
    json_candidates,
    outcome_from_verdict,
    parse_reply_as,
    parse_verdict,
    verdict_schema,
)

__all__ = [
    "UNSCORED",
    "CalibrationCase",
    "RubricSet",
    "UnscoredReason",
    "VerdictError",
    "ask_grader",
    "calibration_brief",
    "calibration_result",
    "ci95",
    "detect_flips",
    "find_calibration",
    "flip_detector",
    "grade_conversation",
    "json_candidates",
    "judge_agreement",
    "knowledge_grader",
    "mean_by_group",
    "median",
    "outcome_from_verdict",
    "parse_reply_as",
    "parse_verdict",
    "prompt_fingerprint",
    "rubric_grader",
    "save_calibration",
    "survival",
    "survival_curve",
    "survival_observation",
    "total",
    "verdict_schema",
    "wilson_interval",
]
