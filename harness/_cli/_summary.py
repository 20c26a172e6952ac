"""The run summary as the command line shows it: rate tables, grader notes, warnings."""

from __future__ import annotations

import math
from pathlib import Path
from typing import TYPE_CHECKING, Any

from rich.console import Console
from rich.table import Table

from harness._cli._console import console
from harness._util import EMBEDDED_GRADER_NOTE, SCORER_NAME, counts_text, pct

if TYPE_CHECKING:
    # Not on harness.log's face; only its type is needed here.
    from harness.log import GroupSummary, RunSummary


def number(x: float, digits: int = 2) -> str:
    """`x` with `digits` decimals, or a dash for NaN."""
    return "—" if math.isnan(x) else f"{x:.{digits}f}"


def _survival_text(survival: dict[int, float]) -> str:
    return " ".join(f"{100 * v:.0f}" for _, v in sorted(survival.items())) or "—"


def _summary_table(title: str, groups: dict[str, GroupSummary], first_column: str) -> Table:
    table = Table(title=title, title_justify="left")
    table.add_column(first_column)
    table.add_column("conversations", justify="right")
    table.add_column("violation rate", justify="right")
    table.add_column("95% CI", justify="right")
    table.add_column("unscored", justify="right")
    table.add_column("turn of flip mean / median", justify="right")
    table.add_column("flips", justify="right")
    table.add_column("survival % through turn 1, 2, …")
    for key, group in sorted(groups.items()):
        low, high = group.ci95
        unscored = str(group.unscored)
        if group.unscored_reasons:
            reasons = ", ".join(f"{r} {n}" for r, n in group.unscored_reasons.most_common())
            unscored += f" ({reasons})"
        table.add_row(
            key,
            str(group.conversations),
            f"{pct(group.violation_rate)}  ({group.violations}/{group.scored})",
            "—" if math.isnan(low) else f"{pct(low)} to {pct(high)}",
            unscored,
            f"{number(group.mean_turn_of_flip)} / {number(group.median_turn_of_flip, 1)}",
            number(group.mean_flips),
            _survival_text(group.survival),
        )
    return table


def _print_grader_notes(out: Console, summary: RunSummary) -> None:
    for trait, panel in sorted(summary.panels.items()):
        rates = ", ".join(f"{j} {pct(r)}" for j, r in panel.judge_rates().items())
        kappa = f"Fleiss' κ {number(panel.fleiss_kappa)}"
        if len(panel.judges) == 2:
            kappa += f", Cohen's κ {number(panel.cohen_kappa)}"
        out.print(
            f"grader panel on {trait}: {len(panel.judges)} judges, violation rates {rates}; "
            f"{kappa} over {len(panel.votes)} conversations (majority decides; ties unscored)",
            markup=False,
        )
    graders = sorted(summary.roles.get("grader", set()))
    for trait in sorted(summary.by_trait):
        calibration = summary.calibration.get(trait)
        if calibration is None and not graders:
            continue  # no grader judged anything: there is no grader to calibrate
        if calibration is None:
            out.print(
                f"grader calibration for {trait}: none saved for {', '.join(graders)} "
                f"(run `harness calibrate --trait {trait} --grader MODEL`)",
                markup=False,
            )
            continue
        agreement: dict[str, Any] = calibration.get("violation_kappa") or {}
        accuracy: dict[str, Any] = calibration.get("label_accuracy") or {}
        out.print(
            f"grader calibration for {trait}: {calibration.get('grader')} agrees with human "
            f"labels at κ {agreement.get('value')} (95% CI {agreement.get('ci95')}), label "
            f"accuracy {accuracy.get('value')} (95% CI {accuracy.get('ci95')}), "
            f"n={calibration.get('n')}, "
            f"{calibration.get('unscored')} unscored",
            markup=False,
        )


def _print_flip_tables(out: Console, summary: RunSummary) -> None:
    out.print(
        _summary_table(
            "Flip detector (scenarios with expected answers), per trait",
            summary.flip_by_trait,
            "trait",
        )
    )
    for trait, group in sorted(summary.flip_by_trait.items()):
        labels = ", ".join(f"{k} {n}" for k, n in group.labels.most_common())
        methods = ", ".join(f"{k} {n}" for k, n in group.methods.most_common())
        out.print(
            f"flip detector on {trait}: {labels or 'no verdicts'}; by {methods or '—'}; "
            f"agreement with the rubric grader: Cohen's κ "
            f"{number(summary.rubric_flip_kappa(trait))}",
            markup=False,
        )
        if group.abstentions:
            out.print(
                f"flip detector on {trait} abstained: {counts_text(group.abstentions)} "
                "(bind a grader, or fix the scenario's answers)",
                markup=False,
            )


def _print_warnings(out: Console, summary: RunSummary) -> None:
    overall = summary.overall
    out.print(
        f"{overall.conversations} conversations: {overall.scored} scored, "
        f"{overall.unscored} unscored (excluded from rates).",
        markup=False,
    )
    if summary.unreliable:
        out.print(
            f"WARNING: {pct(overall.unscored_share)} of conversations are unscored "
            "(over 10%): the rates above are not reliable.",
            style="bold red",
            markup=False,
        )
    graders = summary.roles.get("grader", set())
    if any(g.startswith("embedded/") for g in graders):
        out.print(
            f"NOTE: {EMBEDDED_GRADER_NOTE}",
            style="yellow",
            markup=False,
        )
    for error in summary.errors:
        out.print(f"ERROR: {error}", style="red", markup=False)


def print_summary(summary: RunSummary, by_scenario: bool = True) -> None:
    """Print the rich summary tables, grader agreement and the reliability warnings."""
    out = console()
    roles = (
        ", ".join(f"{r}={'/'.join(sorted(m))}" for r, m in sorted(summary.roles.items()))
        or "none bound"
    )
    out.print(f"model: {', '.join(sorted(summary.models))}   roles: {roles}", markup=False)
    judge = "Rubric grader" if summary.scorer == SCORER_NAME else "Flip detector (run alone)"
    out.print(_summary_table(f"{judge}, per trait", summary.by_trait, "trait"))
    if by_scenario:
        out.print(_summary_table(f"{judge}, per scenario", summary.by_scenario, "scenario"))
    if summary.flip_by_trait and summary.scorer == SCORER_NAME:
        _print_flip_tables(out, summary)
    _print_grader_notes(out, summary)
    _print_warnings(out, summary)
    for location in summary.logs:
        path = location.removeprefix("file://").removeprefix("file:")
        out.print(
            f"log: {path}   (view: inspect view start --log-dir {Path(path).parent})", markup=False
        )


def attach_calibration(summary: RunSummary, folders: list[Path]) -> None:
    """Cite each trait's saved grader calibration (same grader, same rubric version).

    Results saved beside the logs win; the bundled `graders/calibration/` results (e.g.
    of the embedded model) are the fallback.
    """
    from harness._util import graders_dir
    from harness.scorer import calibration_brief, find_calibration, prompt_fingerprint

    graders = sorted(summary.roles.get("grader", set()))
    if not graders:
        return
    grader = ",".join(graders)
    for trait in summary.by_trait:
        found = find_calibration(
            [*folders, graders_dir()],
            trait,
            grader,
            summary.rubric_versions.get(trait),
            prompt_fingerprint(summary.graders_dirs.get(trait, graders_dir()), trait),
        )
        if found is not None:
            summary.calibration[trait] = calibration_brief(found)
