"""The Markdown summary of a three-arm report (from the `report.json` document)."""

from __future__ import annotations

from collections.abc import Iterable, Mapping
from typing import Any

from harness._util import EMBEDDED_GRADER_NOTE, FLIP_SCORER_NAME, counts_text, pct, signed_pct


def report_scorer(report: Mapping[str, Any]) -> str | None:
    """The scorer a report's violation rates come from (None without conversation arms)."""
    for key in ("pressure_detail", "single_turn_detail"):
        detail = report.get(key)
        if isinstance(detail, Mapping) and isinstance(detail.get("scorer"), str):
            return str(detail["scorer"])
    return None


def verdict_judge(scorers: Iterable[str | None]) -> str:
    """Who judged the violation rates, for captions: the rubric grader or the flip detector."""
    found = {s for s in scorers if s}
    if found == {FLIP_SCORER_NAME}:
        return "the flip detector"
    if FLIP_SCORER_NAME in found:
        return "the rubric grader (the flip detector where it was run alone)"
    return "the rubric grader"


def interval(ci: list[float | None] | None, signed: bool = False) -> str:
    """A 95% interval as text."""
    if not ci or ci[0] is None or ci[1] is None:
        return "—"
    fmt = signed_pct if signed else pct
    return f"{fmt(ci[0])} to {fmt(ci[1])}"


def rate_cell(group: dict[str, Any] | None, with_ci: bool = True) -> str:
    """A violation rate with its counts (and 95% interval), or an em dash."""
    if not group:
        return "—"
    ci = f"; {interval(group['violation_rate_ci95'])}" if with_ci else ""
    return f"{pct(group['violation_rate'])} ({group['violations']}/{group['scored']}{ci})"


def _knowledge(group: dict[str, Any] | None) -> str:
    if not group or group["value"] is None:
        return "—"
    low, high = group["ci95"]
    ci = "" if low is None else f"; {low:.2f} to {high:.2f}"
    return f"{group['value']:.2f} (n={group['scored']}{ci})"


def _unscored(trait: dict[str, Any]) -> str:
    parts = []
    for key, short in (("knowledge_score", "K"), ("single_turn", "S"), ("multi_turn", "M")):
        group = trait.get(key)
        parts.append(f"{short} {group['unscored'] if group else '—'}")
    return ", ".join(parts)


def _survival(group: dict[str, Any] | None) -> str:
    if not group or not group.get("survival"):
        return "—"
    return " · ".join(
        f"{k}: {pct(v)}" for k, v in sorted(group["survival"].items(), key=lambda kv: int(kv[0]))
    )


def _calibration(trait: str, data: dict[str, Any] | None) -> str:
    if not data:
        return f"- {trait}: no saved calibration for this grader and rubric."
    kappa = data.get("violation_kappa") or {}
    accuracy = data.get("label_accuracy") or {}
    return (
        f"- {trait}: {data.get('grader')} agrees with human labels at Cohen's κ "
        f"{kappa.get('value')} (95% CI {kappa.get('ci95')}), label accuracy "
        f"{accuracy.get('value')} (95% CI {accuracy.get('ci95')}), n={data.get('n')}."
    )


def report_markdown(report: dict[str, Any]) -> str:
    """The per-trait Markdown summary: the three arms side by side, then the detail."""
    roles = ", ".join(f"{r}={'/'.join(m)}" for r, m in report["roles"].items()) or "—"
    lines = [
        f"# harness report: {report['checkpoint']}",
        "",
        f"Model `{report['model']}`; roles: {roles}; harness {report['harness_version']}.",
        "",
        "| trait | knowledge score | single-turn violation | multi-turn violation "
        "| pressure delta (95% CI, pairs) | knowledge-behaviour gap (95% CI) "
        "| unscored (K, S, M) |",
        "|---|---|---|---|---|---|---|",
    ]
    for name, trait in report["traits"].items():
        delta, gap = trait["pressure_delta"], trait["knowledge_behaviour_gap"]
        lines.append(
            f"| {name} | {_knowledge(trait['knowledge_score'])} "
            f"| {rate_cell(trait['single_turn'])} | {rate_cell(trait['multi_turn'])} "
            f"| {signed_pct(delta['value'])} ({interval(delta['ci95'], True)}, "
            f"n={delta['n_pairs']}) "
            f"| {signed_pct(gap['value'])} ({interval(gap['ci95'], True)}) "
            f"| {_unscored(trait)} |"
        )
    lines += [
        "",
        "Knowledge score: 0-1, how well the model states the trait's principle when asked. "
        f"Violation rates: share of scored samples {verdict_judge([report_scorer(report)])} "
        "judged a violation. Pressure delta: multi-turn minus single-turn violation rate on "
        "the same scenario x item (Tango's score interval). Knowledge-behaviour gap: "
        "knowledge score - (1 - multi-turn violation rate); positive means the model states "
        "the principle better than it acts on it. Unscored samples (grader failures, no "
        "reply) are excluded from rates and counted: K knowledge, S single-turn, M multi-turn.",
        "",
        "## Survival under multi-turn pressure",
        "",
        "| trait | survival through turn k | mean / median turn of flip |",
        "|---|---|---|",
    ]
    for name, trait in report["traits"].items():
        multi = trait["multi_turn"] or {}
        mean, median = multi.get("mean_turn_of_flip"), multi.get("median_turn_of_flip")
        lines.append(
            f"| {name} | {_survival(trait['multi_turn'])} "
            f"| {'—' if mean is None else f'{mean:.2f}'} / "
            f"{'—' if median is None else f'{median:.1f}'} |"
        )
    lines += _flip_lines(report)
    lines += _artifact_lines(report.get("artifacts"))
    lines += _strength_lines(report)
    lines += _driver_lines(report.get("driver_comparison"))
    lines += ["", "## Grader calibration", ""]
    lines += [_calibration(n, t["grader_calibration"]) for n, t in report["traits"].items()]
    notes = _notes(report)
    if notes:
        lines += ["", "## Notes", "", *notes]
    lines += ["", "## Logs", ""]
    for arm, locations in report["logs"].items():
        lines += [f"- {arm}: `{location}`" for location in locations]
    return "\n".join(lines) + "\n"


def _flip_lines(report: dict[str, Any]) -> list[str]:
    """The flip detector's table, for traits whose scenarios declare answers."""
    lines: list[str] = []
    flips = [
        (name, trait["flip_detector"])
        for name, trait in report["traits"].items()
        if any(trait["flip_detector"].values())
    ]
    if flips:
        lines += [
            "",
            "## Flip detector (scenarios with declared answers)",
            "",
            "| trait | single-turn violation | multi-turn violation |",
            "|---|---|---|",
        ]
        for name, flip in flips:
            cells = []
            for arm in ("single_turn", "multi_turn"):
                group = flip[arm]
                cells.append(
                    "—"
                    if not group
                    else f"{pct(group['violation_rate'])} ({interval(group['ci95'])}, "
                    f"{group['unscored']} unscored)"
                )
            lines.append(f"| {name} | {cells[0]} | {cells[1]} |")
    return lines


def _notes(report: dict[str, Any]) -> list[str]:
    notes: list[str] = []
    if report["missing_arms"]:
        notes.append(f"- Arms with no logs: {', '.join(report['missing_arms'])}.")
    unscored = report["unscored"]
    for arm, data in unscored.items():
        if data["unscored"]:
            reasons = ", ".join(f"{r} {n}" for r, n in sorted(data["reasons"].items()))
            notes.append(f"- {arm}: {data['unscored']} unscored ({reasons}).")
        if data.get("flip_abstentions"):
            notes.append(
                f"- {arm}: the flip detector's rules abstained "
                f"({counts_text(data['flip_abstentions'])}): bind a grader, or fix the "
                "scenario's answers (aliases, tolerance)."
            )
    if report["single_turn_skipped_scenarios"]:
        notes.append(
            "- No single-turn form (persona-only, no `single_turn`): "
            + ", ".join(report["single_turn_skipped_scenarios"])
            + "."
        )
    if any(g.startswith("embedded/") for g in report["roles"].get("grader", [])):
        notes.append(f"- {EMBEDDED_GRADER_NOTE}")
    return notes


def _turn(value: float | None) -> str:
    return "—" if value is None else f"{value:.2f}"


def _strength_lines(report: dict[str, Any]) -> list[str]:
    """Tactic strength: per trait, the flips each tactic induced while the target held."""
    rows: list[str] = []
    for name, trait in report["traits"].items():
        strength = trait.get("attacker_strength") or {}
        for tactic, row in (strength.get("tactics") or {}).items():
            rows.append(
                f"| {name} | {tactic} | {row['applied']} | {row['rolled_back']} "
                f"| {row['induced_flips']} "
                f"| {pct(row['induced_rate'])} ({interval(row['ci95'])}) "
                f"| {_turn(row['mean_turn_of_flip'])} |"
            )
    if not rows:
        return []
    backtracks = sum(
        int((trait.get("attacker_strength") or {}).get("backtracks", 0))
        for trait in report["traits"].values()
    )
    return [
        "",
        "## Attacker strength per tactic (multi-turn)",
        "",
        "Turns answered while the target still held, exchanges rolled back because the "
        "target resisted (backtracking), flips on the kept turns, and the induced rate "
        "(flips / turns applied, 95% Wilson interval). "
        f"Backtracks (rolled-back exchanges) over the run: {backtracks}.",
        "",
        "| trait | tactic | turns applied | rolled back | flips induced | induced rate "
        "| mean turn of flip |",
        "|---|---|---|---|---|---|---|",
        *rows,
    ]


def _driver_lines(comparison: dict[str, Any] | None) -> list[str]:
    """The driver comparison: violation rate per driver, and the paired difference."""
    if not comparison:
        return []
    reference = comparison["reference"]
    lines = [
        "",
        "## Driver comparison",
        "",
        f"The same scenarios under each driver; differences are paired on scenario x item "
        f"against `{reference}` (bootstrap 95% interval).",
        "",
        "| trait | driver | violation rate | mean turn of flip | mean backtracks "
        f"| vs {reference} |",
        "|---|---|---|---|---|---|",
    ]
    for trait, variants in comparison["traits"].items():
        for variant, row in variants.items():
            versus = row.get("vs_reference")
            diff = (
                "—"
                if not versus
                else f"{signed_pct(versus['difference'])} ({interval(versus['ci95'], True)}, "
                f"n={versus['n_pairs']})"
            )
            lines.append(
                f"| {trait} | {variant} | {pct(row['violation_rate'])} (n={row['scored']}) "
                f"| {_turn(row['mean_turn_of_flip'])} | {_turn(row['mean_backtracks'])} | {diff} |"
            )
    if comparison.get("skipped_scenarios"):
        lines += [
            "",
            "Left out (driver does not fit): " + "; ".join(comparison["skipped_scenarios"]),
        ]
    return lines


def _artifact_lines(artifacts: dict[str, Any] | None) -> list[str]:
    """Superficial patterns in the checkpoint's outputs (`harness artifacts` detectors)."""
    if not artifacts:
        return []
    if artifacts.get("error"):
        return ["", "## Superficial patterns", "", f"Scan failed: {artifacts['error']}"]
    pressure = bool(artifacts.get("pressure"))
    rows = [_artifact_row(row, pressure) for row in artifacts.get("patterns") or []]
    if not rows:
        return []
    header = ["| pattern | prevalence | flagged |", "|---|---|---|"]
    if pressure:
        header = [
            "| pattern | prevalence | flagged | first reply | after pushback "
            "| flagged under pressure |",
            "|---|---|---|---|---|---|",
        ]
    return [
        "",
        "## Superficial patterns",
        "",
        f"Share of the {artifacts['n_messages']} assistant messages showing each pattern; flagged "
        f"at a prevalence of {pct(artifacts['threshold'])} or more (`harness artifacts` for the "
        "full scan, clusters and examples).",
        *_pressure_lines(artifacts),
        "",
        *header,
        *rows,
    ]


def _artifact_row(row: dict[str, Any], pressure: bool) -> str:
    """One pattern's table row; with `pressure`, its first-reply vs after-pushback columns."""
    line = (
        f"| {row['name']} | {pct(row['prevalence'])} ({row['count']}) "
        f"| {'yes' if row['flagged'] else ''} |"
    )
    if pressure:
        line += (
            f" {pct(row.get('first_reply_prevalence'))} "
            f"| {pct(row.get('after_pushback_prevalence'))} "
            f"| {'yes' if row.get('flagged_under_pressure') else ''} |"
        )
    return line


def _pressure_lines(artifacts: dict[str, Any]) -> list[str]:
    """How the first-reply vs after-pushback columns read, and what was flagged under pressure."""
    pressure = artifacts.get("pressure")
    if not pressure:
        return []
    flagged = artifacts.get("flagged_under_pressure") or []
    return [
        "",
        f"Under pressure: prevalence in the {pressure['first_replies']} first replies and the "
        f"{pressure['after_pushback_replies']} replies after pushback of "
        f"{pressure['conversations']} conversations; flagged under pressure when "
        "over-represented after pushback (Fisher exact per conversation, Holm p < "
        f"{pressure['alpha']:g}).",
        "",
        "Flagged under pressure: " + (", ".join(f"`{n}`" for n in flagged) if flagged else "none"),
    ]
