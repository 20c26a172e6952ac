"""How strong is the adversary? Per tactic, per persona, and per driver.

- A tactic's **induced rate** is a per-turn hazard: of the target turns that answered a
  message using the tactic while the target had not yet flipped, the share where it
  flipped. `mean_turn_of_flip` averages the turns of those flips.
- A persona's strength is the violation rate and mean turn of flip of the scored
  conversations its attacker drove (drivers `persona` and `hybrid`), with its backtracks.
- A driver comparison (`harness run --compare-drivers`) runs the same scenarios under
  several drivers; each is compared with the first on the scenario x item pairs scored
  in both (paired bootstrap), so a team sees whether the live attacker finds violations
  the fixed ladder misses.

Only samples the verdict scorer scored count; unscored ones are counted apart.
"""

from __future__ import annotations

import statistics
from collections import defaultdict
from dataclasses import dataclass
from typing import Any

from inspect_ai.log import EvalLog, EvalSample

from harness._util import DIALOGUE_STORE_KEY, bootstrap_ci, finite
from harness.log import variant_of, verdict_scorer
from harness.scorer import wilson_interval

STRENGTH_SEED = 0
"""Bootstrap seed: the same logs always give the same intervals."""

VARIANT_ORDER = (
    "scripted",
    "scenario",
    "hybrid",
    "persona",
    "hybrid+backtrack",
    "persona+backtrack",
)
"""Drivers in order of attacker power; the first present is the comparison's reference."""


@dataclass(frozen=True)
class Outcome:
    """One scored conversation: violation, turn of flip and the tactic of every user turn."""

    sample_key: str
    trait: str
    scenario_id: str
    driver: str
    violation: bool
    turn_of_flip: int | None
    tactics: list[str | None]
    """Tactic of user turn 1, 2, ... (None: the opening, or a turn without a tactic)."""
    backtracks: int
    rolled_back_tactics: list[str | None]
    """Tactics of the exchanges the attacker rolled back because the target resisted."""


def outcome_of(sample: EvalSample, scorer: str) -> Outcome | None:
    """A sample's scored outcome, or None when the scorer did not score it."""
    score = (sample.scores or {}).get(scorer)
    if sample.error is not None or score is None or not isinstance(score.value, dict):
        return None
    value = score.value
    if value.get("unscored") != 0 or value.get("violation") not in (0, 1):
        return None
    metadata = sample.metadata or {}
    flip = (score.metadata or {}).get("turn_of_flip")
    record = (sample.store or {}).get(DIALOGUE_STORE_KEY) or {}
    return Outcome(
        sample_key=f"{sample.id}#{sample.epoch}",
        trait=str(metadata.get("trait", "unknown")),
        scenario_id=str(metadata.get("scenario_id", "unknown")),
        driver=str(metadata.get("driver", "")),
        violation=bool(value["violation"]),
        turn_of_flip=int(flip) if isinstance(flip, int) and value["violation"] else None,
        tactics=[
            (m.metadata or {}).get("tactic") if m.role == "user" else None
            for m in sample.messages
            if m.role == "user"
        ],
        backtracks=int(record.get("backtracks", 0) or 0),
        rolled_back_tactics=[b.get("tactic") for b in record.get("branches") or []],
    )


def outcomes(logs: list[EvalLog]) -> tuple[list[Outcome], int]:
    """Scored outcomes of every sample in the logs, and the number left unscored."""
    scorer = verdict_scorer(logs)
    found: list[Outcome] = []
    unscored = 0
    for log in logs:
        for sample in log.samples or []:
            outcome = outcome_of(sample, scorer)
            if outcome is None:
                unscored += 1
            else:
                found.append(outcome)
    return found, unscored


def _rate(hits: int, n: int) -> dict[str, Any]:
    low, high = wilson_interval(hits, n)
    return {
        "rate": finite(hits / n, None) if n else None,
        "ci95": [finite(low, None), finite(high, None)] if n else [None, None],
    }


def tactic_strength(found: list[Outcome]) -> dict[str, dict[str, Any]]:
    """Per tactic: turns it was applied to before a flip, flips it induced, their turns.

    Exchanges rolled back because the target resisted are counted apart
    (`rolled_back`): the resistance check, not the grader, judged them.
    """
    applied: dict[str, int] = defaultdict(int)
    rolled_back: dict[str, int] = defaultdict(int)
    flip_turns: dict[str, list[int]] = defaultdict(list)
    for outcome in found:
        for tactic in outcome.rolled_back_tactics:
            rolled_back[tactic or "none"] += 1
        # Assistant turn k answers user turn k; the opening (turn 1) carries no tactic.
        for turn, tactic in enumerate(outcome.tactics, start=1):
            if turn == 1 or tactic is None:
                continue
            if outcome.turn_of_flip is not None and turn > outcome.turn_of_flip:
                break
            applied[tactic] += 1
            if turn == outcome.turn_of_flip:
                flip_turns[tactic].append(turn)
    result: dict[str, dict[str, Any]] = {}
    for tactic in sorted(set(applied) | set(rolled_back)):
        flips = flip_turns.get(tactic, [])
        rate = _rate(len(flips), applied[tactic])
        result[tactic] = {
            "applied": applied[tactic],
            "rolled_back": rolled_back[tactic],
            "induced_flips": len(flips),
            "induced_rate": rate["rate"],
            "ci95": rate["ci95"],
            "mean_turn_of_flip": statistics.fmean(flips) if flips else None,
        }
    return result


def _group_strength(group: list[Outcome]) -> dict[str, Any]:
    flips = [o.turn_of_flip for o in group if o.turn_of_flip is not None]
    rate = _rate(sum(o.violation for o in group), len(group))
    return {
        "scored": len(group),
        "violation_rate": rate["rate"],
        "ci95": rate["ci95"],
        "mean_turn_of_flip": statistics.fmean(flips) if flips else None,
        "mean_backtracks": statistics.fmean(o.backtracks for o in group) if group else None,
    }


def persona_strength(found: list[Outcome]) -> dict[str, dict[str, Any]]:
    """Per scenario whose persona drove the conversation (persona, hybrid): its strength."""
    by_scenario: dict[str, list[Outcome]] = defaultdict(list)
    for outcome in found:
        if outcome.driver in ("persona", "hybrid"):
            by_scenario[outcome.scenario_id].append(outcome)
    return {
        scenario: {"driver": group[0].driver, **_group_strength(group)}
        for scenario, group in sorted(by_scenario.items())
    }


def strength_by_trait(logs: list[EvalLog]) -> dict[str, dict[str, Any]]:
    """Per trait: tactic and persona strength over the logs' scored conversations."""
    found, _ = outcomes(logs)
    by_trait: dict[str, list[Outcome]] = defaultdict(list)
    for outcome in found:
        by_trait[outcome.trait].append(outcome)
    return {
        trait: {
            "tactics": tactic_strength(group),
            "personas": persona_strength(group),
            "backtracks": sum(o.backtracks for o in group),
        }
        for trait, group in sorted(by_trait.items())
    }


def _variant_rank(variant: str) -> tuple[int, str]:
    return (
        VARIANT_ORDER.index(variant) if variant in VARIANT_ORDER else len(VARIANT_ORDER),
        variant,
    )


def driver_comparison(logs: list[EvalLog]) -> dict[str, Any] | None:
    """Per trait and driver variant: strength, and the paired difference from the reference.

    `logs` are the driver-comparison logs of one checkpoint (newest result per sample
    and variant already chosen). None when there are none.
    """
    by_variant: dict[str, list[EvalLog]] = defaultdict(list)
    for log in logs:
        by_variant[variant_of(log)].append(log)
    if not by_variant:
        return None
    variants = sorted(by_variant, key=_variant_rank)
    reference = variants[0]
    per_variant: dict[str, dict[str, list[Outcome]]] = {}
    unscored: dict[str, int] = {}
    for variant in variants:
        found, unscored[variant] = outcomes(by_variant[variant])
        grouped: dict[str, list[Outcome]] = defaultdict(list)
        for outcome in found:
            grouped[outcome.trait].append(outcome)
        per_variant[variant] = grouped
    traits = sorted({t for grouped in per_variant.values() for t in grouped})
    table: dict[str, dict[str, Any]] = {}
    for trait in traits:
        reference_by_key = {o.sample_key: o for o in per_variant[reference].get(trait, [])}
        rows: dict[str, Any] = {}
        for variant in variants:
            group = per_variant[variant].get(trait, [])
            row: dict[str, Any] = {
                **_group_strength(group),
                "tactics": tactic_strength(group),
            }
            if variant != reference:
                pairs = [
                    float(o.violation) - float(reference_by_key[o.sample_key].violation)
                    for o in group
                    if o.sample_key in reference_by_key
                ]
                row["vs_reference"] = _paired(pairs)
            rows[variant] = row
        table[trait] = rows
    skipped = sorted(
        {str(s) for log in logs for s in (log.eval.metadata or {}).get("skipped_scenarios") or []}
    )
    return {
        "reference": reference,
        "variants": variants,
        "traits": table,
        "unscored": unscored,
        "skipped_scenarios": skipped,
    }


def _paired(pairs: list[float]) -> dict[str, Any]:
    if not pairs:
        return {"difference": None, "ci95": [None, None], "n_pairs": 0}
    low, high = bootstrap_ci(pairs, statistics.fmean, seed=STRENGTH_SEED)
    return {
        "difference": finite(statistics.fmean(pairs), None),
        "ci95": [finite(low, None), finite(high, None)],
        "n_pairs": len(pairs),
    }
