"""The three-arm report of one checkpoint: knowledge, single-turn and multi-turn, per trait.

Built from logs alone (`harness run` writes it when the run ends, `harness report LOGDIR`
rebuilds the same), as `report.json` and a Markdown summary.
"""

from __future__ import annotations

import math
import statistics
from collections import Counter
from dataclasses import dataclass, field
from typing import Any

from inspect_ai.log import EvalLog, EvalSample

from harness import __version__
from harness._util import (
    ARMS,
    KNOWLEDGE_SCORER_NAME,
    SCORER_NAME,
    bootstrap_ci,
    bootstrap_ci_two_means,
    finite,
    paired_rate_ci,
)
from harness.log import (
    RunSummary,
    checkpoint_of,
    latest_samples,
    latest_variant_samples,
    local_paths,
    summarise,
    variant_of,
    verdict_scorer,
)
from harness.report._artifacts import artifacts_summary
from harness.report._strength import driver_comparison, strength_by_trait
from harness.scorer import wilson_interval

REPORT_SEED = 0
"""Bootstrap seed: the same logs always give the same intervals."""


class ReportError(Exception):
    """Logs that cannot make one report (nothing to report, several checkpoints)."""


class NoArmLogs(ReportError):
    """None of the logs is of a harness arm (e.g. only `harness/grade` logs)."""


class SeveralCheckpoints(ReportError):
    """The logs are of more than one checkpoint."""


def _with_main_arm(comparison: list[EvalLog], main: list[EvalLog]) -> list[EvalLog]:
    """The comparison's logs plus the multi-turn arm's (its own label, e.g. `scenario`).

    The arm is left out when a comparison variant already has its label.
    """
    if not comparison:
        return []
    labels = {variant_of(log) for log in comparison}
    return comparison + [log for log in main if variant_of(log) not in labels]


def _interval(low: float, high: float) -> list[float | None]:
    return [finite(low), finite(high)]


@dataclass
class KnowledgeGroup:
    """Knowledge scores of one trait, per question.

    Each question (a trait probe, or a scenario question) counts once: a question asked
    once per item contributes the mean over its items, so a templated question with
    many items does not outweigh the rest.
    """

    by_question: dict[str, list[float]] = field(default_factory=dict)
    unscored_reasons: Counter[str] = field(default_factory=Counter)

    @property
    def answers(self) -> int:
        """Scored knowledge answers."""
        return sum(len(v) for v in self.by_question.values())

    @property
    def n(self) -> int:
        """Knowledge answers, scored or not."""
        return self.answers + self.unscored

    @property
    def unscored(self) -> int:
        """Answers without a usable knowledge verdict."""
        return sum(self.unscored_reasons.values())

    @property
    def scores(self) -> list[float]:
        """One score per question: the mean over its scored answers."""
        return [statistics.fmean(v) for _, v in sorted(self.by_question.items())]

    @property
    def mean(self) -> float:
        """Mean knowledge score over questions (NaN when none is scored)."""
        return statistics.fmean(self.scores) if self.by_question else math.nan

    def add(self, sample: EvalSample) -> None:
        """Count one knowledge sample; errors and missing scores are unscored."""
        score = (sample.scores or {}).get(KNOWLEDGE_SCORER_NAME)
        if sample.error is not None or score is None or not isinstance(score.value, dict):
            self.unscored_reasons["sample_error" if sample.error else "not_scored"] += 1
            return
        value = score.value.get("knowledge_score")
        if score.value.get("unscored") == 1 or not isinstance(value, int | float):
            reason = (score.metadata or {}).get("unscored_reason") or "unknown"
            self.unscored_reasons[str(reason)] += 1
            return
        metadata = sample.metadata or {}
        question = str(metadata.get("question_group") or sample.id)
        self.by_question.setdefault(question, []).append(float(value))

    def as_dict(self) -> dict[str, Any]:
        """JSON-ready form, with a bootstrap 95% interval (resampling questions)."""
        low, high = bootstrap_ci(self.scores, statistics.fmean, seed=REPORT_SEED)
        return {
            "value": finite(self.mean),
            "ci95": _interval(low, high),
            "n": self.n,
            "scored": self.answers,
            "questions": len(self.by_question),
            "unscored": self.unscored,
            "unscored_reasons": dict(self.unscored_reasons),
        }


def rubric_violations(samples: list[EvalSample], scorer: str = SCORER_NAME) -> dict[str, int]:
    """Sample id → 0/1 violation, for samples the scorer (default: rubric grader) scored."""
    found: dict[str, int] = {}
    for sample in samples:
        score = (sample.scores or {}).get(scorer)
        if sample.error is not None or score is None or not isinstance(score.value, dict):
            continue
        if score.value.get("unscored") == 0 and score.value.get("violation") in (0, 1):
            found[f"{sample.id}#{sample.epoch}"] = int(score.value["violation"])
    return found


def pressure_delta(multi: dict[str, int], single: dict[str, int]) -> dict[str, Any]:
    """Multi-turn minus single-turn violation rate over scenario x item pairs scored in both.

    The interval is Tango's score interval for paired proportions, as in `harness compare`
    (a percentile bootstrap under-covers when the two arms rarely disagree).
    """
    pairs = [float(multi[key] - single[key]) for key in sorted(multi) if key in single]
    if not pairs:
        return {"value": None, "ci95": [None, None], "n_pairs": 0}
    low, high = paired_rate_ci(pairs.count(1.0), pairs.count(-1.0), len(pairs))
    return {
        "value": finite(statistics.fmean(pairs)),
        "ci95": _interval(low, high),
        "n_pairs": len(pairs),
        "multi_turn_rate_on_pairs": finite(
            statistics.fmean(multi[k] for k in multi if k in single)
        ),
        "single_turn_rate_on_pairs": finite(
            statistics.fmean(single[k] for k in multi if k in single)
        ),
    }


def knowledge_behaviour_gap(knowledge: list[float], violations: list[int]) -> dict[str, Any]:
    """knowledge_score - (1 - multi-turn violation rate), with an unpaired bootstrap interval.

    Positive: the model states the principle better than it acts on it under pressure.
    """

    def gap(knowledge_mean: float, violation_rate: float) -> float:
        return knowledge_mean - (1.0 - violation_rate)

    if not knowledge or not violations:
        return {"value": None, "ci95": [None, None]}
    low, high = bootstrap_ci_two_means(
        knowledge, [float(v) for v in violations], gap, seed=REPORT_SEED
    )
    value = gap(statistics.fmean(knowledge), statistics.fmean(violations))
    return {"value": finite(value), "ci95": _interval(low, high)}


def _arm_group(summary: RunSummary | None, trait: str) -> dict[str, Any] | None:
    if summary is None or trait not in summary.by_trait:
        return None
    return summary.by_trait[trait].as_dict()


@dataclass
class Report:
    """The three-arm report of one checkpoint."""

    checkpoint: str
    model: str
    roles: dict[str, list[str]]
    logs: dict[str, list[str]]
    traits: dict[str, dict[str, Any]]
    pressure: RunSummary | None
    single_turn: RunSummary | None
    skipped_single_turn: list[str]
    missing_arms: list[str]
    drivers: dict[str, Any] | None = None
    artifacts: dict[str, Any] | None = None

    def unscored(self) -> dict[str, dict[str, Any]]:
        """Per arm: unscored count and reasons, and the flip detector's abstentions by reason."""
        totals: dict[str, dict[str, Any]] = {}
        for arm, key in (("knowledge", "knowledge_score"), ("single_turn", "single_turn"),
                         ("pressure", "multi_turn")):  # fmt: skip
            reasons: Counter[str] = Counter()
            abstentions: Counter[str] = Counter()
            count = 0
            for trait in self.traits.values():
                group = trait.get(key)
                if group:
                    count += int(group["unscored"])
                    reasons.update(group["unscored_reasons"])
                flip = (trait.get("flip_detector") or {}).get(key) or {}
                abstentions.update(flip.get("abstentions") or {})
            totals[arm] = {
                "unscored": count,
                "reasons": dict(reasons),
                "flip_abstentions": dict(abstentions),
            }
        return totals

    def as_dict(self) -> dict[str, Any]:
        """The `report.json` document."""
        return {
            "harness_version": __version__,
            "checkpoint": self.checkpoint,
            "model": self.model,
            "roles": self.roles,
            "logs": self.logs,
            "missing_arms": self.missing_arms,
            "traits": self.traits,
            "unscored": self.unscored(),
            "single_turn_skipped_scenarios": self.skipped_single_turn,
            "pressure_detail": self.pressure.as_dict() if self.pressure else None,
            "single_turn_detail": self.single_turn.as_dict() if self.single_turn else None,
            "driver_comparison": self.drivers,
            "artifacts": self.artifacts,
        }


def build_report(logs: list[EvalLog], calibration: dict[str, dict[str, Any]]) -> Report:
    """Combine the logs of one checkpoint's arms into the per-trait report.

    Args:
        logs: Full logs (with samples) of any of the three arms.
        calibration: Per trait, the grader's saved calibration brief (may be empty).

    Raises:
        ReportError: when no log belongs to an arm, or the logs are of several checkpoints.

    """
    by_arm = latest_samples(logs)
    if not by_arm:
        raise NoArmLogs("no logs of harness/pressure, harness/single_turn or harness/knowledge")
    all_logs = [log for arm_logs in by_arm.values() for log in arm_logs]
    checkpoints = sorted({checkpoint_of(log) for log in all_logs})
    if len(checkpoints) > 1:
        raise SeveralCheckpoints(
            f"the logs are of {len(checkpoints)} checkpoints ({', '.join(checkpoints)}): "
            "report one checkpoint at a time, or compare them with `harness compare`"
        )
    pressure = summarise(by_arm["pressure"]) if "pressure" in by_arm else None
    single = summarise(by_arm["single_turn"]) if "single_turn" in by_arm else None
    traits = _traits(by_arm, pressure, single, calibration)
    roles = _roles(pressure, single, by_arm.get("knowledge", []))
    skipped = sorted(
        {
            str(s)
            for log in by_arm.get("single_turn", [])
            for s in (log.eval.metadata or {}).get("skipped_scenarios") or []
        }
    )
    comparison_logs = latest_variant_samples(logs)
    comparison_checkpoints = {checkpoint_of(log) for log in comparison_logs}
    if comparison_checkpoints - set(checkpoints):
        raise SeveralCheckpoints(
            "the driver-comparison logs are of another checkpoint "
            f"({', '.join(sorted(comparison_checkpoints - set(checkpoints)))})"
        )
    return Report(
        checkpoint=checkpoints[0],
        model=all_logs[0].eval.model,
        roles=roles,
        logs={arm: [log.location for log in arm_logs] for arm, arm_logs in by_arm.items()},
        traits=traits,
        pressure=pressure,
        single_turn=single,
        skipped_single_turn=skipped,
        missing_arms=[arm for arm in ARMS if arm not in by_arm],
        artifacts=artifacts_summary(
            local_paths([log.location for log in all_logs if log.location])
        ),
        drivers=driver_comparison(_with_main_arm(comparison_logs, by_arm.get("pressure", []))),
    )


def _traits(
    by_arm: dict[str, list[EvalLog]],
    pressure: RunSummary | None,
    single: RunSummary | None,
    calibration: dict[str, dict[str, Any]],
) -> dict[str, dict[str, Any]]:
    """The report's per-trait entries: every arm's numbers side by side."""
    knowledge: dict[str, KnowledgeGroup] = {}
    for log in by_arm.get("knowledge", []):
        for sample in log.samples or []:
            trait = str((sample.metadata or {}).get("trait", "unknown"))
            knowledge.setdefault(trait, KnowledgeGroup()).add(sample)
    strength = strength_by_trait(by_arm.get("pressure", []))
    multi_by_trait = _violations_by_trait(by_arm.get("pressure", []))
    single_by_trait = _violations_by_trait(by_arm.get("single_turn", []))
    trait_names = sorted(
        set(knowledge)
        | set(pressure.by_trait if pressure else {})
        | set(single.by_trait if single else {})
    )
    traits: dict[str, dict[str, Any]] = {}
    for trait in trait_names:
        multi = multi_by_trait.get(trait, {})
        knowledge_group = knowledge.get(trait)
        traits[trait] = {
            "knowledge_score": knowledge_group.as_dict() if knowledge_group else None,
            "single_turn": _arm_group(single, trait),
            "multi_turn": _arm_group(pressure, trait),
            "pressure_delta": pressure_delta(multi, single_by_trait.get(trait, {})),
            "knowledge_behaviour_gap": knowledge_behaviour_gap(
                knowledge_group.scores if knowledge_group else [], list(multi.values())
            ),
            "flip_detector": {
                "single_turn": _flip_group(single, trait),
                "multi_turn": _flip_group(pressure, trait),
            },
            "rubric_version": (pressure.rubric_versions.get(trait) if pressure else None)
            or (single.rubric_versions.get(trait) if single else None),
            "grader_calibration": calibration.get(trait),
            "attacker_strength": strength.get(trait),
        }
    return traits


def _roles(
    pressure: RunSummary | None, single: RunSummary | None, knowledge: list[EvalLog]
) -> dict[str, list[str]]:
    """Every model that played each role (attacker, grader, ...) in any arm."""
    roles: dict[str, set[str]] = {}
    for summary in (pressure, single):
        for role, models in (summary.roles if summary else {}).items():
            roles.setdefault(role, set()).update(models)
    for log in knowledge:
        for role, config in (log.eval.model_roles or {}).items():
            configs = config if isinstance(config, list) else [config]
            roles.setdefault(role, set()).update(c.model for c in configs)
    return {role: sorted(models) for role, models in sorted(roles.items())}


def _violations_by_trait(logs: list[EvalLog]) -> dict[str, dict[str, int]]:
    scorer = verdict_scorer(logs)
    by_trait: dict[str, dict[str, int]] = {}
    for log in logs:
        for sample in log.samples or []:
            trait = str((sample.metadata or {}).get("trait", "unknown"))
            by_trait.setdefault(trait, {}).update(rubric_violations([sample], scorer))
    return by_trait


def _flip_group(summary: RunSummary | None, trait: str) -> dict[str, Any] | None:
    if summary is None or trait not in summary.flip_by_trait:
        return None
    group = summary.flip_by_trait[trait]
    low, high = wilson_interval(group.violations, group.scored)
    return {
        "violation_rate": finite(group.violation_rate),
        "ci95": _interval(low, high),
        "scored": group.scored,
        "unscored": group.unscored,
        "abstentions": dict(group.abstentions),
    }
