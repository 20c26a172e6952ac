"""Summaries of finished runs: per-trait and per-scenario rates, read from inspect logs."""

from __future__ import annotations

import math
import statistics
from collections import Counter
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

from inspect_ai.log import EvalLog, EvalSample, list_eval_logs, read_eval_log

from harness._metrics import wilson_interval

SCORER_NAME = "rubric_grader"
UNRELIABLE_UNSCORED_SHARE = 0.10
"""Above this share of unscored conversations the rates are flagged as unreliable."""


@dataclass
class GroupSummary:
    """Rates for one trait or scenario."""

    key: str
    conversations: int = 0
    violations: int = 0
    unscored: int = 0
    unscored_reasons: Counter[str] = field(default_factory=Counter)
    flip_turns: list[float] = field(default_factory=list)
    severities: list[float] = field(default_factory=list)

    @property
    def scored(self) -> int:
        """Conversations with a usable verdict."""
        return self.conversations - self.unscored

    @property
    def violation_rate(self) -> float:
        """Violations over scored conversations (NaN when none is scored)."""
        return self.violations / self.scored if self.scored else math.nan

    @property
    def ci95(self) -> tuple[float, float]:
        """Wilson 95% interval of the violation rate."""
        return wilson_interval(self.violations, self.scored)

    @property
    def mean_turn_of_flip(self) -> float:
        """Mean assistant turn of the first violation, over violating conversations."""
        return statistics.fmean(self.flip_turns) if self.flip_turns else math.nan

    @property
    def unscored_share(self) -> float:
        """Share of conversations without a usable verdict."""
        return self.unscored / self.conversations if self.conversations else 0.0

    def add(self, sample: EvalSample) -> None:
        """Count one sample; a sample with an error or no score counts as unscored."""
        self.conversations += 1
        score = (sample.scores or {}).get(SCORER_NAME)
        if sample.error is not None or score is None or not isinstance(score.value, dict):
            self.unscored += 1
            self.unscored_reasons["sample_error" if sample.error else "not_scored"] += 1
            return
        value = score.value
        if value.get("unscored") == 1:
            self.unscored += 1
            reason = (score.metadata or {}).get("unscored_reason") or "unknown"
            self.unscored_reasons[str(reason)] += 1
            return
        if value.get("violation") == 1:
            self.violations += 1
            flip = value.get("turn_of_flip")
            if isinstance(flip, int | float) and not math.isnan(flip):
                self.flip_turns.append(float(flip))
        severity = value.get("severity")
        if isinstance(severity, int | float) and not math.isnan(severity):
            self.severities.append(float(severity))

    def as_dict(self) -> dict[str, Any]:
        """JSON-ready form."""
        low, high = self.ci95
        return {
            "conversations": self.conversations,
            "scored": self.scored,
            "violations": self.violations,
            "violation_rate": _finite(self.violation_rate),
            "violation_rate_ci95": [_finite(low), _finite(high)],
            "unscored": self.unscored,
            "unscored_reasons": dict(self.unscored_reasons),
            "mean_turn_of_flip": _finite(self.mean_turn_of_flip),
            "mean_severity": _finite(
                statistics.fmean(self.severities) if self.severities else math.nan
            ),
        }


def _finite(x: float) -> float | None:
    return None if math.isnan(x) else round(x, 4)


@dataclass
class RunSummary:
    """Everything `harness report` shows for a set of logs."""

    logs: list[str] = field(default_factory=list)
    models: set[str] = field(default_factory=set)
    roles: dict[str, set[str]] = field(default_factory=dict)
    overall: GroupSummary = field(default_factory=lambda: GroupSummary("all"))
    by_trait: dict[str, GroupSummary] = field(default_factory=dict)
    by_scenario: dict[str, GroupSummary] = field(default_factory=dict)
    errors: list[str] = field(default_factory=list)

    @property
    def unreliable(self) -> bool:
        """True when more than 10% of conversations are unscored."""
        return self.overall.unscored_share > UNRELIABLE_UNSCORED_SHARE

    def as_dict(self) -> dict[str, Any]:
        """JSON-ready form."""
        return {
            "logs": self.logs,
            "models": sorted(self.models),
            "roles": {role: sorted(models) for role, models in self.roles.items()},
            "overall": self.overall.as_dict(),
            "unreliable": self.unreliable,
            "by_trait": {k: v.as_dict() for k, v in sorted(self.by_trait.items())},
            "by_scenario": {k: v.as_dict() for k, v in sorted(self.by_scenario.items())},
            "errors": self.errors,
        }


def log_paths(sources: list[Path]) -> list[str]:
    """Expand files and folders into `.eval`/`.json` log locations."""
    paths: list[str] = []
    for source in sources:
        if source.is_dir():
            paths.extend(info.name for info in list_eval_logs(str(source)))
        else:
            paths.append(str(source))
    return paths


def summarise(logs: list[EvalLog]) -> RunSummary:
    """Group every sample of the pressure arm by trait and by scenario."""
    summary = RunSummary()
    for log in logs:
        summary.logs.append(log.location)
        summary.models.add(log.eval.model)
        for role, config in (log.eval.model_roles or {}).items():
            configs = config if isinstance(config, list) else [config]
            summary.roles.setdefault(role, set()).update(c.model for c in configs)
        if log.status == "error" and log.error is not None:
            summary.errors.append(f"{log.location}: {log.error.message}")
        for sample in log.samples or []:
            metadata = sample.metadata or {}
            trait = str(metadata.get("trait", "unknown"))
            scenario = str(metadata.get("scenario_id", "unknown"))
            summary.overall.add(sample)
            summary.by_trait.setdefault(trait, GroupSummary(trait)).add(sample)
            summary.by_scenario.setdefault(scenario, GroupSummary(scenario)).add(sample)
    return summary


def read_logs(sources: list[Path]) -> list[EvalLog]:
    """Read full logs (with samples) from files and folders."""
    return [read_eval_log(path) for path in log_paths(sources)]
