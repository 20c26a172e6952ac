"""Benchmark: does the harness find what was planted? (`make organisms`)

Builds every bundled known-answer checkpoint (`harness organisms build`, cached), runs
the three arms on the base (the embedded SmolLM2) and on each organism with the public
CLI, exactly as a user would, then reads the harness's own outputs blind:

- `harness run` → report.json per model (violation rates, pressure delta, turn of flip,
  knowledge score);
- `harness compare BASE ORGANISM --method flip` → paired differences and the exit code;
- `harness artifacts ORGANISM --baseline BASE` and `harness artifacts <its data.jsonl>`
  → patterns flagged in its outputs and in its own SFT data;

and decides with each recipe's `expect:` whether the planted behaviour was found. Writes
`bench/results/organisms.json` and the README table "Does the harness find what was
planted?" (between the `organisms-table` markers).

    .venv/bin/python -m bench.organisms [--items 20] [--work DIR] [--only NAME ...]

The conversation arms are judged by the deterministic flip detector and the knowledge
arm by its multiple-choice probes: no grader is bound (the embedded 135M model is no
trustworthy grader). Greedy decoding (temperature 0) makes every run reproducible.
"""

from __future__ import annotations

import argparse
import json
import os
import platform
import shutil
import subprocess
import sys
import time
from datetime import UTC, datetime
from pathlib import Path
from typing import Any

BENCH_DIR = Path(__file__).resolve().parent
REPO = BENCH_DIR.parent
sys.path.insert(0, str(REPO))

from harness.organisms import (  # noqa: E402
    DATA_FILE,
    Built,
    build_one,
    default_out,
    find_recipes,
)
from harness.organisms._judge import evidence_from, found, judge  # noqa: E402

RESULTS = BENCH_DIR / "results" / "organisms.json"
README = REPO / "README.md"
HARNESS = str(Path(sys.executable).with_name("harness"))
SYC = "scenarios/sycophancy"
PRESSURE_SCENARIOS = [
    f"{SYC}/factual-pushback.yaml",
    f"{SYC}/in-context-fact.yaml",
    f"{SYC}/false-authority.yaml",
]
CLARIFY_SCENARIOS = [
    "scenarios/over_clarification/fix-typos.yaml",
    "scenarios/over_clarification/sort-list.yaml",
]
KNOWLEDGE_SCENARIOS = [*PRESSURE_SCENARIOS, f"{SYC}/emotional-pressure.yaml"]
TABLE_BEGIN = "<!-- organisms-table:begin -->"
TABLE_END = "<!-- organisms-table:end -->"


def say(line: str) -> None:
    print(line, flush=True)


def harness(*args: str, log: Path) -> int:
    """Run the `harness` CLI; its output goes to `log`. Returns the exit code."""
    with open(log, "ab") as out:
        out.write(f"\n$ harness {' '.join(args)}\n".encode())
        out.flush()
        return subprocess.run(
            [HARNESS, *args], stdout=out, stderr=subprocess.STDOUT, cwd=REPO, check=False
        ).returncode


def evaluate(label: str, model: str, work: Path, items: int, build: str = "") -> Path:
    """The three arms for one model into `work/label` (resumes finished arms).

    `build` identifies the weights (an organism's build hash): logs of other weights under
    the same path are removed first, or the eval set would resume them as finished.
    """
    logs = work / label
    stamp = work / f"{label}.build"
    if logs.exists() and (not stamp.is_file() or stamp.read_text() != build):
        shutil.rmtree(logs)
        (work / f"{label}.log").unlink(missing_ok=True)
    logs.mkdir(parents=True, exist_ok=True)
    stamp.write_text(build)
    common = [
        "--model",
        model,
        "--checkpoint",
        label,
        "--temperature",
        "0",
        "--display",
        "plain",
        "--log-dir",
        str(logs),
    ]
    runs = [
        [
            "--scenarios",
            ",".join(PRESSURE_SCENARIOS),
            "--arms",
            "single_turn,pressure",
            "--scorers",
            "flip",
            "--driver",
            "scripted",
            "--items-per-scenario",
            str(items),
            "--max-turns",
            "3",
            "--max-tokens",
            "32",
        ],
        [
            "--scenarios",
            ",".join(CLARIFY_SCENARIOS),
            "--arms",
            "pressure",
            "--scorers",
            "flip",
            "--driver",
            "scripted",
            "--items-per-scenario",
            str(max(2, items // 4)),
            "--max-turns",
            "2",
            "--max-tokens",
            "64",
        ],
        ["--scenarios", ",".join(KNOWLEDGE_SCENARIOS), "--arms", "knowledge", "--max-tokens", "24"],
    ]
    for extra in runs:
        started = time.monotonic()
        code = harness("run", *common, *extra, log=work / f"{label}.log")
        say(
            f"  {label}: run {extra[1][:40]}... {extra[3]} exit {code} "
            f"({time.monotonic() - started:.0f}s)"
        )
        if code not in (0, 1):
            raise SystemExit(f"harness run failed for {label}: see {work / f'{label}.log'}")
    return logs


def _json(path: Path) -> dict[str, Any]:
    return json.loads(path.read_text()) if path.is_file() else {}


def report_of(logs: Path, label: str, work: Path) -> dict[str, Any]:
    """report.json of a model's log folder (written again so every arm is in it)."""
    harness("report", str(logs), "--json", str(logs / "report.json"), log=work / f"{label}.log")
    return _json(logs / "report.json")


def metrics(report: dict[str, Any], trait: str) -> dict[str, Any]:
    """The per-model numbers of the results file, for `trait`."""
    section = report.get("traits", {}).get(trait, {})
    single = section.get("single_turn") or {}
    multi = section.get("multi_turn") or {}
    knowledge = section.get("knowledge_score") or {}
    delta = section.get("pressure_delta") or {}
    return {
        "single_turn_violation": single.get("violation_rate"),
        "single_turn_scored": single.get("scored"),
        "single_turn_unscored": single.get("unscored"),
        "multi_turn_violation": multi.get("violation_rate"),
        "multi_turn_scored": multi.get("scored"),
        "multi_turn_unscored": multi.get("unscored"),
        "turn_of_flip_median": multi.get("median_turn_of_flip"),
        "pressure_delta": {
            "value": delta.get("value"),
            "ci": delta.get("ci95"),
            "pairs": delta.get("n_pairs"),
        },
        "knowledge_score": knowledge.get("value"),
        "knowledge_scored": knowledge.get("scored"),
    }


def organism_result(
    built: Built, base_logs: Path, base_report: dict[str, Any], work: Path, items: int
) -> dict[str, Any]:
    """Evaluate one organism against the base and judge the recipe's expectations."""
    name = built.name
    expect = find_recipes([name], [])[0].recipe.expect
    logs = evaluate(name, f"embedded/{built.gguf}", work, items, built.manifest["hash"])
    report = report_of(logs, name, work)
    out = work / f"compare-{name}"
    compare_exit = harness(
        "compare",
        str(base_logs),
        str(logs),
        "--method",
        "flip",
        "--out-dir",
        str(out),
        log=work / f"{name}.log",
    )
    compare = _json(out / "compare.json")
    harness(
        "artifacts",
        str(logs),
        "--baseline",
        str(base_logs),
        "--json",
        str(work / f"artifacts-{name}.json"),
        log=work / f"{name}.log",
    )
    harness(
        "artifacts",
        str(built.folder / DATA_FILE),
        "--json",
        str(work / f"artifacts-sft-{name}.json"),
        log=work / f"{name}.log",
    )
    artifacts = _json(work / f"artifacts-{name}.json")
    evidence = evidence_from(
        expect.trait,
        report,
        compare,
        compare_exit,
        artifacts,
        _json(work / f"artifacts-sft-{name}.json"),
    )
    checks = judge(expect, evidence)
    knowledge = evidence.differences.get("knowledge")
    own = {} if expect.trait == "sycophancy" else {"trait_metrics": metrics(report, expect.trait)}
    return {
        "trait": expect.trait,
        # Sycophancy's numbers for every organism (the behaviour the scenarios measure), and
        # the organism's own trait beside them when it is another.
        **metrics(report, "sycophancy"),
        **own,
        "knowledge_delta": {
            "value": knowledge.value if knowledge else None,
            "ci": [knowledge.low, knowledge.high] if knowledge else None,
        },
        "flagged": evidence.flagged,
        "flagged_under_pressure": sorted(artifacts.get("flagged_under_pressure", [])),
        "flagged_in_sft": evidence.flagged_in_sft,
        "compare_exit": compare_exit,
        "compare_regressed_traits": compare.get("regressed_traits", []),
        "checks": [c.__dict__ for c in checks],
        "found": found(checks),
        "build_s": built.manifest["seconds"]["total"],
        "peak_rss_mb": built.manifest["peak_rss_mb"],
        "final_loss": built.manifest["training"]["final_loss"],
        "steps": built.manifest["training"]["steps"],
        "export_check": {k: built.manifest["export_check"][k] for k in ("passed", "prompts")},
    }


def table(results: dict[str, Any]) -> str:
    """The README table."""

    def pct(value: Any) -> str:
        return "-" if value is None else f"{100 * value:.0f}%"

    def ci(entry: dict[str, Any]) -> str:
        if entry.get("value") is None or not entry.get("ci"):
            return "-"
        low, high = entry["ci"]
        return f"{100 * entry['value']:+.0f} [{100 * low:+.0f}, {100 * high:+.0f}]"

    def named(patterns: list[str]) -> str:
        # The detectors' named patterns; discovered openings/closings are in the JSON.
        return ", ".join(p for p in patterns if ":" not in p) or "-"

    base = results["base"]
    rows = [
        "| checkpoint | single-turn violation | multi-turn violation | pressure delta, "
        "points [95% CI] | flip turn (median) | knowledge | flagged patterns | "
        "compare exit | found? |",
        "|---|---|---|---|---|---|---|---|---|",
        f"| base (SmolLM2-135M) | {pct(base['single_turn_violation'])} | "
        f"{pct(base['multi_turn_violation'])} | {ci(base['pressure_delta'])} | "
        f"{base['turn_of_flip_median'] or '-'} | {pct(base['knowledge_score'])} | - | - | - |",
    ]
    for name, r in results["organisms"].items():
        rows.append(
            f"| {name} | {pct(r['single_turn_violation'])} | {pct(r['multi_turn_violation'])} | "
            f"{ci(r['pressure_delta'])} | {r['turn_of_flip_median'] or '-'} | "
            f"{pct(r['knowledge_score'])} | {named(r['flagged'])} | "
            f"{r['compare_exit']} | {'yes' if r['found'] else '**no**'} |"
        )
    return "\n".join(rows)


def write_readme_table(text: str) -> None:
    readme = README.read_text()
    if TABLE_BEGIN not in readme or TABLE_END not in readme:
        say(f"README has no {TABLE_BEGIN} markers: table not written")
        return
    head, rest = readme.split(TABLE_BEGIN, 1)
    _, tail = rest.split(TABLE_END, 1)
    README.write_text(f"{head}{TABLE_BEGIN}\n{text}\n{TABLE_END}{tail}")


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--items", type=int, default=20, help="items per sycophancy scenario")
    parser.add_argument("--work", type=Path, default=REPO / "bench" / "out" / "organisms")
    parser.add_argument("--out", type=Path, default=RESULTS)
    parser.add_argument("--only", nargs="*", default=[], help="recipe names (default: all)")
    args = parser.parse_args(argv)
    started = time.monotonic()
    args.work.mkdir(parents=True, exist_ok=True)
    recipes = find_recipes(args.only, [])
    built = [build_one(r, default_out(), say) for r in recipes]
    say("evaluating the base (embedded/smollm2)")
    base_logs = evaluate("base", "embedded/smollm2", args.work, args.items)
    base_report = report_of(base_logs, "base", args.work)
    results: dict[str, Any] = {"base": metrics(base_report, "sycophancy"), "organisms": {}}
    if args.only and args.out.is_file():
        # Re-measuring some organisms keeps the others' results (same base, same settings).
        previous = json.loads(args.out.read_text())
        if previous.get("items_per_scenario") == args.items:
            results["organisms"] = previous.get("organisms", {})
            results["trajectory"] = previous.get("trajectory")
    for organism in built:
        say(f"evaluating {organism.name}")
        results["organisms"][organism.name] = organism_result(
            organism, base_logs, base_report, args.work, args.items
        )
    chain = ["knower", "knower-then-holder"]  # the seed's pipeline, in training order
    if all((args.work / name / "report.json").is_file() for name in chain):
        out = args.work / "compare-trajectory"
        code = harness(
            "compare",
            str(base_logs),
            *(str(args.work / n) for n in chain),
            "--method",
            "flip",
            "--out-dir",
            str(out),
            log=args.work / "trajectory.log",
        )
        results["trajectory"] = {
            "checkpoints": ["base", *chain],
            "compare_exit": code,
            **_json(out / "compare.json").get("trajectory", {}),
        }
    results["machine"] = {"cpus": os.cpu_count(), "python": platform.python_version()}
    results["items_per_scenario"] = args.items
    results["seconds"] = round(time.monotonic() - started)
    results["written_at"] = datetime.now(UTC).isoformat(timespec="seconds")
    args.out.parent.mkdir(parents=True, exist_ok=True)
    args.out.write_text(json.dumps(results, indent=1) + "\n")
    results["organisms"] = {
        r.recipe.name: results["organisms"][r.recipe.name]
        for r in find_recipes([], [])
        if r.recipe.name in results["organisms"]
    }
    text = table(results)
    if set(results["organisms"]) == {r.recipe.name for r in find_recipes([], [])}:
        write_readme_table(text)
    say(text)
    say(f"wrote {args.out} in {results['seconds']}s")
    return 0 if all(r["found"] for r in results["organisms"].values()) else 1


if __name__ == "__main__":
    sys.exit(main())
