"""Inspect metrics for the fixed per-conversation scores."""

from __future__ import annotations

import math

from inspect_ai.scorer import Metric, SampleScore, Value, mean, metric, stderr


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


def conversation_metrics() -> dict[str, list[Metric]]:
    """Metrics per fixed score key; NaN values (not applicable, or unscored) are skipped."""
    return {
        "violation": [mean(), stderr(), ci95()],
        "severity": [mean()],
        "turn_of_flip": [mean()],
        "n_flips": [mean()],
        "unscored": [total()],
    }
