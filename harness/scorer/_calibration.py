"""Grader calibration: agreement with human labels, with bootstrap 95% intervals.

A grader's prediction that is unscored counts as a disagreement (its own column in the
confusion matrix): a grader that fails often must not look accurate by skipping the
hard cases. Results are saved as JSON under `<dir>/calibration/`, where reports find
them by trait, grader and rubric version.
"""

from __future__ import annotations

import datetime
import hashlib
import json
import math
import re
from collections.abc import Callable, Sequence
from dataclasses import asdict, dataclass
from pathlib import Path
from typing import Any

from harness._util import Problem, accuracy, bootstrap_ci, cohen_kappa, confusion_matrix, finite
from harness.scenario import load_rubric_file

LABELS = ("held", "caved", "caved_late", "hedged", "updated", "never_correct")
UNSCORED = "unscored"


@dataclass(frozen=True)
class CalibrationCase:
    """One labelled transcript and what the grader (or detector) said of it."""

    id: str
    category: str | None
    true_label: str
    true_violation: bool
    true_turn_of_flip: int | None
    predicted_label: str
    """The predicted trajectory label, or `unscored`."""
    predicted_violation: bool | None
    predicted_turn_of_flip: int | None
    reason: str | None = None


Statistic = Callable[[Sequence[CalibrationCase]], float]


def _label_accuracy(cases: Sequence[CalibrationCase]) -> float:
    return accuracy([c.true_label for c in cases], [c.predicted_label for c in cases])


def _violation_calls(cases: Sequence[CalibrationCase]) -> tuple[list[str], list[str]]:
    truth = ["violation" if c.true_violation else "none" for c in cases]
    predicted = [
        UNSCORED
        if c.predicted_violation is None
        else ("violation" if c.predicted_violation else "none")
        for c in cases
    ]
    return truth, predicted


def _violation_accuracy(cases: Sequence[CalibrationCase]) -> float:
    return accuracy(*_violation_calls(cases))


def _violation_kappa(cases: Sequence[CalibrationCase]) -> float:
    return cohen_kappa(*_violation_calls(cases))


def _label_kappa(cases: Sequence[CalibrationCase]) -> float:
    return cohen_kappa([c.true_label for c in cases], [c.predicted_label for c in cases])


def _flip_cases(cases: Sequence[CalibrationCase]) -> list[CalibrationCase]:
    return [c for c in cases if c.true_violation and c.predicted_violation]


def _turn_of_flip_match(cases: Sequence[CalibrationCase]) -> float:
    both = _flip_cases(cases)
    if not both:
        return math.nan
    return sum(c.true_turn_of_flip == c.predicted_turn_of_flip for c in both) / len(both)


STATISTICS: dict[str, Statistic] = {
    "label_accuracy": _label_accuracy,
    "violation_accuracy": _violation_accuracy,
    "violation_kappa": _violation_kappa,
    "label_kappa": _label_kappa,
    "turn_of_flip_exact_match": _turn_of_flip_match,
}
"""What a calibration reports; each gets a bootstrap 95% interval over transcripts."""


def calibration_result(
    cases: Sequence[CalibrationCase],
    *,
    trait: str,
    method: str,
    grader: str,
    rubric_version: int,
    prompt: str | None,
    source: str,
    source_sha256: str,
    seed: int = 0,
    n_resamples: int = 2000,
) -> dict[str, Any]:
    """Agreement statistics with bootstrap 95% CIs, the confusion matrix and every case."""
    metrics: dict[str, Any] = {}
    for name, statistic in STATISTICS.items():
        low, high = bootstrap_ci(list(cases), statistic, n_resamples=n_resamples, seed=seed)
        metrics[name] = {
            "value": finite(statistic(cases)),
            "ci95": [finite(low), finite(high)],
        }
    metrics["turn_of_flip_exact_match"]["n"] = len(_flip_cases(cases))
    classes = [label for label in LABELS if any(c.true_label == label for c in cases)]
    predicted_extra = sorted({c.predicted_label for c in cases} - set(classes) - {UNSCORED})
    columns = [*classes, *predicted_extra, UNSCORED]
    matrix = confusion_matrix(
        [c.true_label for c in cases], [c.predicted_label for c in cases], columns
    )
    return {
        "trait": trait,
        "method": method,
        "grader": grader,
        "rubric_version": rubric_version,
        "prompt_fingerprint": prompt,
        "source": source,
        "source_sha256": source_sha256,
        "created": datetime.datetime.now(datetime.UTC).isoformat(timespec="seconds"),
        "n": len(cases),
        "unscored": sum(c.predicted_label == UNSCORED for c in cases),
        "metrics": metrics,
        "confusion": {
            "rows": "human label",
            "columns": "predicted label",
            # Rows are human labels only: no transcript is labelled "unscored".
            "matrix": {label: matrix[label] for label in classes},
        },
        "cases": [asdict(c) for c in cases],
    }


def _slug(text: str) -> str:
    return re.sub(r"[^A-Za-z0-9._-]+", "_", text).strip("_") or "none"


def calibration_path(folder: Path, trait: str, method: str, grader: str) -> Path:
    """Where a calibration result is saved.

    The file is `<folder>/calibration/<trait>--<method>--<grader>.json`.
    """
    return folder / "calibration" / f"{trait}--{method}--{_slug(grader)}.json"


def save_calibration(result: dict[str, Any], folder: Path) -> Path:
    """Write a calibration result where reports look for it."""
    path = calibration_path(folder, result["trait"], result["method"], result["grader"])
    path.parent.mkdir(parents=True, exist_ok=True)
    path.write_text(json.dumps(result, indent=2) + "\n", encoding="utf-8")
    return path


def prompt_fingerprint(graders: Path, trait: str) -> str | None:
    """sha256 over what the behaviour grader's prompt is made of (None if unreadable).

    The rubric's fields (its knowledge section and violation patterns aside: the
    knowledge arm has its own grader, and the patterns are read without one) and the four
    templates it names. A calibration measures one grader on one
    prompt: a result is cited only while these are what they were.
    """
    rubric_path = graders / f"{trait}.yaml"
    problems: list[Problem] = []
    loaded = load_rubric_file(rubric_path, problems) if rubric_path.is_file() else None
    if loaded is None:
        return None
    rubric = loaded.rubric
    fields = rubric.model_dump(mode="json", exclude={"knowledge", "violation_patterns"})
    digest = hashlib.sha256(json.dumps(fields, sort_keys=True).encode("utf-8"))
    names = [rubric.prefix_template, rubric.template, rubric.retry_template,
             rubric.extraction_template]  # fmt: skip
    try:
        for name in names:
            digest.update(name.encode("utf-8"))
            digest.update((graders / "templates" / name).read_bytes())
    except OSError:
        return None
    return digest.hexdigest()


def find_calibration(
    folders: Sequence[Path],
    trait: str,
    grader: str,
    rubric_version: int | None = None,
    fingerprint: str | None = None,
) -> dict[str, Any] | None:
    """The saved rubric calibration of `grader` on `trait` for this rubric and prompt, if any."""
    for folder in folders:
        path = calibration_path(folder, trait, "rubric", grader)
        if not path.is_file():
            continue
        try:
            result: dict[str, Any] = json.loads(path.read_text(encoding="utf-8"))
        except (OSError, json.JSONDecodeError):
            continue
        if rubric_version is not None and result.get("rubric_version") != rubric_version:
            continue
        if fingerprint is not None and result.get("prompt_fingerprint") != fingerprint:
            continue
        result["path"] = str(path)
        return result
    return None


def calibration_brief(result: dict[str, Any]) -> dict[str, Any]:
    """The headline numbers a report cites next to a grader's scores."""
    metrics = result.get("metrics", {})
    return {
        "grader": result.get("grader"),
        "n": result.get("n"),
        "unscored": result.get("unscored"),
        "created": result.get("created"),
        "path": result.get("path"),
        **{name: metrics.get(name) for name in ("violation_kappa", "label_accuracy")},
    }
