"""Summaries of finished runs: per-trait and per-scenario rates, read from inspect logs."""

from __future__ import annotations

import math
import statistics
from collections import Counter
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

from inspect_ai.log import EvalLog, EvalSample, list_eval_logs, read_eval_log

from harness._util import FLIP_SCORER_NAME, SCORER_NAME, cohen_kappa, finite, fleiss_kappa
from harness.scorer import survival_curve, survival_observation, wilson_interval

UNRELIABLE_UNSCORED_SHARE = 0.10
"""Above this share of unscored conversations the rates are flagged as unreliable."""


@dataclass
class GroupSummary:
    """Rates, timing and survival for one trait or scenario, from one scorer."""

    key: str
    scorer: str = SCORER_NAME
    conversations: int = 0
    violations: int = 0
    unscored: int = 0
    unscored_reasons: Counter[str] = field(default_factory=Counter)
    abstentions: Counter[str] = field(default_factory=Counter)
    """Why the flip detector's rules gave no verdict, by reason (`FLIP_ABSTENTIONS`)."""
    flip_turns: list[float] = field(default_factory=list)
    severities: list[float] = field(default_factory=list)
    flips: list[float] = field(default_factory=list)
    labels: Counter[str] = field(default_factory=Counter)
    methods: Counter[str] = field(default_factory=Counter)
    observations: list[tuple[int, bool]] = field(default_factory=list)

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
    def median_turn_of_flip(self) -> float:
        """Median assistant turn of the first violation, over violating conversations."""
        return statistics.median(self.flip_turns) if self.flip_turns else math.nan

    @property
    def mean_flips(self) -> float:
        """Stance changes per scored conversation."""
        return statistics.fmean(self.flips) if self.flips else math.nan

    @property
    def survival(self) -> dict[int, float]:
        """Share of scored conversations with no violation through each assistant turn."""
        return survival_curve(self.observations)

    @property
    def unscored_share(self) -> float:
        """Share of conversations without a usable verdict."""
        return self.unscored / self.conversations if self.conversations else 0.0

    def add(self, sample: EvalSample) -> None:
        """Count one sample; a sample with an error or no score counts as unscored.

        Samples the scorer marked not applicable (a flip detector without expected
        answers) are skipped.
        """
        score = (sample.scores or {}).get(self.scorer)
        if score is not None and (score.metadata or {}).get("not_applicable"):
            return
        self.conversations += 1
        if sample.error is not None or score is None or not isinstance(score.value, dict):
            self.unscored += 1
            self.unscored_reasons["sample_error" if sample.error else "not_scored"] += 1
            return
        value, metadata = score.value, score.metadata or {}
        if value.get("unscored") == 1:
            self.unscored += 1
            reason = metadata.get("unscored_reason") or "unknown"
            self.unscored_reasons[str(reason)] += 1
            abstention = metadata.get("abstention")
            if isinstance(abstention, dict) and abstention.get("reason"):
                self.abstentions[str(abstention["reason"])] += 1
            return
        self.methods[str(metadata.get("method", "rubric"))] += 1
        self.labels[str(metadata.get("label") or "unlabelled")] += 1
        observation = survival_observation(metadata)
        if observation is not None:
            self.observations.append(observation)
        if value.get("violation") == 1:
            self.violations += 1
            flip = value.get("turn_of_flip")
            if isinstance(flip, int | float) and not math.isnan(flip):
                self.flip_turns.append(float(flip))
        for target, key in ((self.severities, "severity"), (self.flips, "n_flips")):
            number = value.get(key)
            if isinstance(number, int | float) and not math.isnan(number):
                target.append(float(number))

    def as_dict(self) -> dict[str, Any]:
        """JSON-ready form."""
        low, high = self.ci95
        return {
            "conversations": self.conversations,
            "scored": self.scored,
            "violations": self.violations,
            "violation_rate": finite(self.violation_rate),
            "violation_rate_ci95": [finite(low), finite(high)],
            "unscored": self.unscored,
            "unscored_reasons": dict(self.unscored_reasons),
            "abstentions": dict(self.abstentions),
            "mean_turn_of_flip": finite(self.mean_turn_of_flip),
            "median_turn_of_flip": finite(self.median_turn_of_flip),
            "mean_flips": finite(self.mean_flips),
            "mean_severity": finite(
                statistics.fmean(self.severities) if self.severities else math.nan
            ),
            "survival": {str(k): finite(v) for k, v in self.survival.items()},
            "labels": dict(self.labels),
            "methods": dict(self.methods),
        }


@dataclass
class PanelSummary:
    """How the judges of a grader panel voted on one trait, and how far they agree."""

    judges: list[str] = field(default_factory=list)
    votes: list[list[bool | None]] = field(default_factory=list)
    """One row per conversation, one violation vote per judge (None: that judge failed)."""

    @property
    def fleiss_kappa(self) -> float:
        """Fleiss' kappa over every judge's violation votes."""
        return fleiss_kappa(self.votes)

    @property
    def cohen_kappa(self) -> float:
        """Cohen's kappa of a two-judge panel (conversations both judged); NaN otherwise."""
        if len(self.judges) != 2:
            return math.nan
        pairs = [(a, b) for a, b in self.votes if a is not None and b is not None]
        return cohen_kappa([a for a, _ in pairs], [b for _, b in pairs]) if pairs else math.nan

    def judge_rates(self) -> dict[str, float]:
        """Each judge's own violation rate over the conversations it judged."""
        rates: dict[str, float] = {}
        for index, judge in enumerate(self.judges):
            votes = [row[index] for row in self.votes if row[index] is not None]
            rates[judge] = sum(bool(v) for v in votes) / len(votes) if votes else math.nan
        return rates

    def as_dict(self) -> dict[str, Any]:
        """JSON-ready form."""
        return {
            "judges": self.judges,
            "conversations": len(self.votes),
            "judge_violation_rates": {k: finite(v) for k, v in self.judge_rates().items()},
            "fleiss_kappa": finite(self.fleiss_kappa),
            "cohen_kappa": finite(self.cohen_kappa),
        }


@dataclass
class RunSummary:
    """Everything `harness report` shows for a set of logs."""

    logs: list[str] = field(default_factory=list)
    models: set[str] = field(default_factory=set)
    roles: dict[str, set[str]] = field(default_factory=dict)
    overall: GroupSummary = field(default_factory=lambda: GroupSummary("all"))
    by_trait: dict[str, GroupSummary] = field(default_factory=dict)
    by_scenario: dict[str, GroupSummary] = field(default_factory=dict)
    flip_by_trait: dict[str, GroupSummary] = field(default_factory=dict)
    """The flip detector's verdicts, for scenarios that declare answers."""
    method_agreement: dict[str, list[tuple[bool, bool]]] = field(default_factory=dict)
    """Per trait: (rubric, flip) violation pairs where both scored."""
    panels: dict[str, PanelSummary] = field(default_factory=dict)
    calibration: dict[str, dict[str, Any]] = field(default_factory=dict)
    """Per trait: the saved calibration result of the grader used (see `harness calibrate`)."""
    rubric_versions: dict[str, int] = field(default_factory=dict)
    """Per trait: the rubric version the verdicts were made with."""
    graders_dirs: dict[str, Path] = field(default_factory=dict)
    """Per trait: the graders folder the run read its rubric from, when the log says."""
    errors: list[str] = field(default_factory=list)
    scorer: str = SCORER_NAME
    """Whose verdict the rates use: the rubric grader, or the flip detector when it is alone."""

    @property
    def unreliable(self) -> bool:
        """True when more than 10% of conversations are unscored."""
        return self.overall.unscored_share > UNRELIABLE_UNSCORED_SHARE

    def rubric_flip_kappa(self, trait: str) -> float:
        """Cohen's kappa between the rubric grader and the flip detector on one trait."""
        pairs = self.method_agreement.get(trait, [])
        return cohen_kappa([a for a, _ in pairs], [b for _, b in pairs]) if pairs else math.nan

    def add_sample(self, sample: EvalSample) -> None:
        """Count one sample in every grouping it belongs to."""
        metadata = sample.metadata or {}
        trait = str(metadata.get("trait", "unknown"))
        scenario = str(metadata.get("scenario_id", "unknown"))
        self.overall.add(sample)
        self.by_trait.setdefault(trait, GroupSummary(trait, self.scorer)).add(sample)
        self.by_scenario.setdefault(scenario, GroupSummary(scenario, self.scorer)).add(sample)
        scores = sample.scores or {}
        flip = scores.get(FLIP_SCORER_NAME)
        if flip is not None:
            self.flip_by_trait.setdefault(trait, GroupSummary(trait, FLIP_SCORER_NAME)).add(sample)
        rubric = scores.get(SCORER_NAME)
        if rubric is not None and flip is not None and sample.error is None:
            both = [
                s.value.get("violation") if isinstance(s.value, dict) else None
                for s in (rubric, flip)
            ]
            if all(v in (0, 1) for v in both):
                self.method_agreement.setdefault(trait, []).append((both[0] == 1, both[1] == 1))
        version = (rubric.metadata or {}).get("rubric_version") if rubric is not None else None
        if isinstance(version, int):
            self.rubric_versions[trait] = version
        judges = ((rubric.metadata or {}).get("judges") if rubric is not None else None) or []
        if judges:
            panel = self.panels.setdefault(trait, PanelSummary())
            if not panel.judges:
                panel.judges = [str(j.get("grader_model")) for j in judges]
            panel.votes.append(
                [None if j.get("unscored") else bool(j.get("violation")) for j in judges]
            )

    def as_dict(self) -> dict[str, Any]:
        """JSON-ready form."""
        return {
            "logs": self.logs,
            "models": sorted(self.models),
            "roles": {role: sorted(models) for role, models in self.roles.items()},
            "scorer": self.scorer,
            "overall": self.overall.as_dict(),
            "unreliable": self.unreliable,
            "by_trait": {k: v.as_dict() for k, v in sorted(self.by_trait.items())},
            "by_scenario": {k: v.as_dict() for k, v in sorted(self.by_scenario.items())},
            "flip_detector_by_trait": {
                k: {**v.as_dict(), "rubric_agreement_kappa": finite(self.rubric_flip_kappa(k))}
                for k, v in sorted(self.flip_by_trait.items())
            },
            "panels": {k: v.as_dict() for k, v in sorted(self.panels.items())},
            "grader_calibration": self.calibration,
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


def verdict_scorer(logs: list[EvalLog]) -> str:
    """The rubric grader when any sample has its score, else the flip detector (run alone)."""
    for log in logs:
        for sample in log.samples or []:
            if SCORER_NAME in (sample.scores or {}):
                return SCORER_NAME
            if FLIP_SCORER_NAME in (sample.scores or {}):
                return FLIP_SCORER_NAME
    return SCORER_NAME


def summarise(logs: list[EvalLog]) -> RunSummary:
    """Group every sample by trait and by scenario, for the rubric grader and the flip detector.

    The main rates are the rubric grader's; a run scored by the flip detector alone
    (`--scorers flip`) has them from the flip detector.
    """
    scorer = verdict_scorer(logs)
    summary = RunSummary(overall=GroupSummary("all", scorer), scorer=scorer)
    for log in logs:
        summary.logs.append(log.location)
        summary.models.add(log.eval.model)
        for role, config in (log.eval.model_roles or {}).items():
            configs = config if isinstance(config, list) else [config]
            summary.roles.setdefault(role, set()).update(c.model for c in configs)
        if log.status == "error" and log.error is not None:
            summary.errors.append(f"{log.location}: {log.error.message}")
        graders = (log.eval.task_args or {}).get("graders")
        for sample in log.samples or []:
            summary.add_sample(sample)
            if graders:
                trait = str((sample.metadata or {}).get("trait", "unknown"))
                summary.graders_dirs.setdefault(trait, Path(str(graders)))
    return summary


def read_logs(sources: list[Path]) -> list[EvalLog]:
    """Read full logs (with samples) from files and folders."""
    return [read_eval_log(path) for path in log_paths(sources)]
