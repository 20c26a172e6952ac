"""Inspect metrics for the fixed per-conversation scores."""

from __future__ import annotations

import math
import statistics
from collections.abc import Sequence
from typing import Any

from inspect_ai.scorer import Metric, SampleScore, Value, mean, metric, stderr

from harness._util import fleiss_kappa, kaplan_meier


def wilson_interval(successes: int, n: int, z: float = 1.96) -> tuple[float, float]:
    """Wilson score 95% interval for a proportion (well-behaved at 0, 1 and small n)."""
    if n == 0:
        return (math.nan, math.nan)
    p = successes / n
    denominator = 1 + z * z / n
    centre = (p + z * z / (2 * n)) / denominator
    half = z * math.sqrt(p * (1 - p) / n + z * z / (4 * n * n)) / denominator
    return (max(0.0, centre - half), min(1.0, centre + half))


@metric
def ci95() -> Metric:
    """Wilson 95% interval of a 0/1 rate, as `ci95_low` and `ci95_high`."""

    def compute(scores: list[SampleScore]) -> Value:
        values = [s.score.as_float() for s in scores]
        values = [v for v in values if not math.isnan(v)]
        low, high = wilson_interval(int(sum(values)), len(values))
        return {"low": low, "high": high}

    return compute


@metric
def total() -> Metric:
    """Sum of the values (used to count unscored conversations)."""

    def compute(scores: list[SampleScore]) -> Value:
        return float(sum(s.score.as_float() for s in scores))

    return compute


@metric
def median() -> Metric:
    """Median of the values (NaN ones are excluded before metrics run)."""

    def compute(scores: list[SampleScore]) -> Value:
        values = [s.score.as_float() for s in scores]
        return statistics.median(values) if values else math.nan

    return compute


def survival_observation(metadata: dict[str, Any] | None) -> tuple[int, bool] | None:
    """(turn, violated) of one scored conversation: its first violation, or its length."""
    metadata = metadata or {}
    flip, n_turns = metadata.get("turn_of_flip"), metadata.get("n_turns")
    if isinstance(flip, int) and flip >= 1:
        return (flip, True)
    if isinstance(n_turns, int) and n_turns >= 1:
        return (n_turns, False)
    return None


def survival_curve(observations: Sequence[tuple[int, bool]]) -> dict[int, float]:
    """Kaplan-Meier share with no violation through each assistant turn k, k = 1..longest.

    A conversation that ended without a violation at turn n is observed through n and
    censored after it; with equal lengths this is the plain share of conversations.
    """
    if not observations:
        return {}
    longest = max(turn for turn, _ in observations)
    return dict(enumerate(kaplan_meier(list(observations), longest), start=1))


def _survival_of(scores: list[SampleScore], prefix: str) -> dict[str, float]:
    observations = [o for s in scores if (o := survival_observation(s.score.metadata)) is not None]
    return {
        f"{prefix}survival[{k}]": value
        for k, value in survival_curve(observations).items()
        if not math.isnan(value)
    }


def _groups(scores: list[SampleScore], key: str) -> dict[str, list[SampleScore]]:
    groups: dict[str, list[SampleScore]] = {}
    for score in scores:
        groups.setdefault(str((score.sample_metadata or {}).get(key, "unknown")), []).append(score)
    return dict(sorted(groups.items()))


def _mean(scores: list[SampleScore]) -> float:
    return statistics.fmean(s.score.as_float() for s in scores) if scores else math.nan


GROUP_KEYS = {"trait": "trait", "scenario": "scenario_id"}
"""Breakdown name → sample-metadata key."""


@metric
def survival() -> Metric:
    """`survival[k]`: share of scored conversations with no violation through turn k.

    Also per trait, as `<trait>:survival[k]`. Kaplan-Meier: a conversation that ended
    without a violation at turn n is observed through n and censored after it.
    """

    def compute(scores: list[SampleScore]) -> Value:
        values = _survival_of(scores, "")
        for trait, group in _groups(scores, "trait").items():
            values.update(_survival_of(group, f"{trait}:"))
        return values

    return compute


@metric
def mean_by_group() -> Metric:
    """The mean per trait and per scenario, as `trait:<trait>` and `scenario:<id>`."""

    def compute(scores: list[SampleScore]) -> Value:
        values: dict[str, float] = {}
        for name, key in GROUP_KEYS.items():
            for group, members in _groups(scores, key).items():
                values[f"{name}:{group}"] = _mean(members)
        return values

    return compute


@metric
def judge_agreement() -> Metric:
    """Fleiss' kappa of a grader panel's violation votes (`panel_kappa`); absent for one judge."""

    def compute(scores: list[SampleScore]) -> Value:
        votes = [
            [None if j.get("unscored") else bool(j.get("violation")) for j in judges]
            for s in scores
            if (judges := (s.score.metadata or {}).get("judges"))
        ]
        if not votes:
            return {}
        kappa = fleiss_kappa(votes)
        return {} if math.isnan(kappa) else {"panel_kappa": kappa}

    return compute


def conversation_metrics() -> dict[str, list[Metric]]:
    """Metrics per fixed score key; NaN values (not applicable, or unscored) are skipped.

    Rates, turn of flip and flips are also given per trait and per scenario, and the
    survival curve overall and per trait, so `inspect view` shows them all.
    """
    return {
        "violation": [mean(), stderr(), ci95(), mean_by_group(), survival(), judge_agreement()],
        "severity": [mean()],
        "turn_of_flip": [mean(), median(), mean_by_group()],
        "n_flips": [mean(), mean_by_group()],
        "unscored": [total()],
    }
