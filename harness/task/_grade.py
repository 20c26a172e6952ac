"""The `grade`, `calibrate` and `regrade` commands: judging conversations after the fact.

All three run through inspect (`harness/grade` task, or `inspect_ai.score` on a finished
log), so grader calls are cached, logged and viewable with `inspect view`; none of them
calls a target model.
"""

from __future__ import annotations

import hashlib
import json
from collections.abc import Sequence
from pathlib import Path
from typing import Any

from inspect_ai import eval as inspect_eval
from inspect_ai import score as inspect_score
from inspect_ai.log import EvalLog, EvalSample, read_eval_log, write_eval_log
from inspect_ai.model import Model
from inspect_ai.scorer import Score

from harness._util import FLIP_SCORER_NAME, SCORER_NAME, display_path, graders_dir
from harness.scorer import (
    UNSCORED,
    CalibrationCase,
    RubricSet,
    calibration_result,
    prompt_fingerprint,
    save_calibration,
)
from harness.task._transcripts import Method, TranscriptRecord, grade, load_transcripts, scorers_for

SCORERS_BY_METHOD: dict[str, tuple[str, ...]] = {
    "rubric": (SCORER_NAME,),
    "flip": (FLIP_SCORER_NAME,),
    "both": (SCORER_NAME, FLIP_SCORER_NAME),
}


GraderSpec = str | Model | Sequence[Model] | None
"""A grader: a model name, a comma-separated list of names (a panel), or model objects."""


def grader_roles(grader: GraderSpec) -> dict[str, Any]:
    """The `grader` role binding: one model, or a panel."""
    if not grader:
        return {}
    if isinstance(grader, Model):
        return {"grader": grader}
    if not isinstance(grader, str):
        return {"grader": list(grader)}
    models = [m.strip() for m in grader.split(",") if m.strip()]
    return {"grader": models[0] if len(models) == 1 else models}


def grader_name(grader: GraderSpec) -> str:
    """How a grader is named in saved results (`none` for no model)."""
    if not grader:
        return "none"
    if isinstance(grader, str):
        return ",".join(m.strip() for m in grader.split(",") if m.strip())
    if isinstance(grader, Model):
        return str(grader)
    return ",".join(str(m) for m in grader)


def verdict_line(sample: EvalSample, scorer: str) -> dict[str, Any]:
    """One output line of `harness grade`: the verdict of one scorer on one transcript."""
    score: Score | None = (sample.scores or {}).get(scorer)
    method = "rubric" if scorer == SCORER_NAME else "flip"
    if sample.error is not None or score is None or not isinstance(score.value, dict):
        return {
            "id": sample.id,
            "violation": None,
            "turn_of_flip": None,
            "n_flips": None,
            "label": None,
            "unscored": True,
            "reason": "sample_error" if sample.error is not None else "not_scored",
            "method": method,
        }
    metadata = score.metadata or {}
    unscored = score.value.get("unscored") == 1
    n_flips = score.value.get("n_flips")
    abstention = metadata.get("abstention")
    return {
        "id": sample.id,
        "violation": None if unscored else score.value.get("violation") == 1,
        "turn_of_flip": None if unscored else metadata.get("turn_of_flip"),
        "n_flips": None if unscored else int(n_flips) if n_flips is not None else None,
        "label": None if unscored else metadata.get("label"),
        "unscored": unscored,
        "reason": metadata.get("unscored_reason"),
        "abstention": abstention if unscored and isinstance(abstention, dict) else None,
        "method": str(metadata.get("method", method)),
    }


def ordered_samples(log: EvalLog, ids: Sequence[str]) -> list[EvalSample]:
    """The log's samples in the order of the input file."""
    position = {sample_id: n for n, sample_id in enumerate(ids)}
    return sorted(log.samples or [], key=lambda s: position.get(str(s.id), len(position)))


def run_grading(
    transcripts: Path,
    trait: str,
    method: Method,
    grader: GraderSpec,
    graders: Path | None,
    log_dir: str,
    display: str,
    max_connections: int | None = None,
) -> EvalLog:
    """Grade a transcripts file with the `harness/grade` task; no target model is called."""
    return inspect_eval(
        grade(
            transcripts=str(transcripts),
            trait=trait,
            method=method,
            graders=str(graders) if graders else None,
        ),
        model="none",
        model_roles=grader_roles(grader) or None,
        log_dir=log_dir,
        display=display,  # type: ignore[arg-type]
        max_connections=max_connections,
    )[0]


def write_verdicts(
    log: EvalLog, ids: Sequence[str], method: Method, out: Path
) -> list[dict[str, Any]]:
    """Write one JSON line per transcript and scorer; return the lines."""
    lines = [
        verdict_line(sample, scorer)
        for sample in ordered_samples(log, ids)
        for scorer in SCORERS_BY_METHOD[method]
    ]
    out.parent.mkdir(parents=True, exist_ok=True)
    out.write_text("".join(json.dumps(line) + "\n" for line in lines), encoding="utf-8")
    return lines


def calibration_cases(
    records: Sequence[TranscriptRecord], lines: Sequence[dict[str, Any]]
) -> list[CalibrationCase]:
    """Pair each labelled transcript with its verdict line."""
    by_id = {line["id"]: line for line in lines}
    cases: list[CalibrationCase] = []
    for record in records:
        if record.label is None:
            continue
        line = by_id.get(record.id, {})
        unscored = line.get("unscored", True)
        true_violation = (
            record.violation
            if record.violation is not None
            else record.label in ("caved", "caved_late", "hedged")
        )
        cases.append(
            CalibrationCase(
                id=record.id,
                category=record.category,
                true_label=record.label,
                true_violation=true_violation,
                true_turn_of_flip=record.turn_of_flip,
                predicted_label=UNSCORED if unscored else str(line.get("label")),
                predicted_violation=None if unscored else bool(line.get("violation")),
                predicted_turn_of_flip=None if unscored else line.get("turn_of_flip"),
                reason=line.get("reason"),
            )
        )
    return cases


def calibrate(
    trait: str,
    method: Method,
    grader: GraderSpec,
    calibration_file: Path | None,
    graders: Path | None,
    out_dir: Path,
    display: str,
    seed: int = 0,
) -> tuple[dict[str, Any], Path]:
    """Judge the trait's calibration set, compare with its labels, save and return the result.

    Transcripts without `expect` are left out of a flip-detector calibration (the
    detector does not apply to them); the result says how many.
    """
    folder = graders or graders_dir()
    source = calibration_file or folder / "calibration" / f"{trait}.jsonl"
    records = [r for _, r in load_transcripts(source)]
    graded_file = source
    skipped = 0
    if method == "flip":
        applicable = [r for r in records if r.expect is not None]
        skipped = len(records) - len(applicable)
        if skipped:
            graded_file = out_dir / "calibration" / f"{trait}--flip-applicable.jsonl"
            graded_file.parent.mkdir(parents=True, exist_ok=True)
            graded_file.write_text(
                "".join(r.model_dump_json(exclude_none=True) + "\n" for r in applicable),
                encoding="utf-8",
            )
        records = applicable
    log = run_grading(
        graded_file, trait, method, grader, graders, str(out_dir / "calibration" / "logs"), display
    )
    lines = [
        verdict_line(sample, SCORERS_BY_METHOD[method][0])
        for sample in ordered_samples(log, [r.id for r in records])
    ]
    rubric = RubricSet(folder).get(trait)
    result = calibration_result(
        calibration_cases(records, lines),
        trait=trait,
        method=method,
        grader=grader_name(grader),
        rubric_version=rubric.version,
        prompt=prompt_fingerprint(folder, trait),
        source=display_path(source),
        source_sha256=hashlib.sha256(source.read_bytes()).hexdigest(),
        seed=seed,
    )
    result["skipped_without_expect"] = skipped
    result["log"] = display_path(Path(log.location.removeprefix("file://")))
    result["log_status"] = log.status
    return result, save_calibration(result, out_dir)


def regrade(
    log_path: Path,
    method: Method,
    grader: GraderSpec,
    out: Path | None,
    display: str,
) -> tuple[EvalLog, Path]:
    """Re-score a finished log with new graders; no target call, cached grader calls."""
    log = read_eval_log(str(log_path))
    task_args = log.eval.task_args or {}
    graders = task_args.get("graders")
    scored = inspect_score(
        log,
        scorers_for(method, str(graders) if graders else None),
        model_roles=grader_roles(grader) or None,
        action="overwrite",
        display=display,  # type: ignore[arg-type]
    )
    target = out or log_path.with_name(f"{log_path.stem}-regraded{log_path.suffix}")
    write_eval_log(scored, str(target))
    scored.location = str(target)
    return scored, target
