"""`make bench`: throughput, CPU floor, grader tokens, Petri and faults, on one machine.

    .venv/bin/python -m bench.run [--out bench/results/latest.json] [--quick] [...]

Every figure comes from this one run: each measured inspect run gets its own mock
server process (fixed latency, 200 ms by default) and is measured as a child process.
Results go to `bench/results/latest.json`, a short table to stdout; bench/README.md
says what each number means.
"""

from __future__ import annotations

import argparse
import json
import os
import platform
import shutil
import sys
import tempfile
import time
from datetime import UTC, datetime
from importlib.metadata import version
from pathlib import Path
from typing import Any

from pydantic import BaseModel, ConfigDict, Field

from bench.faults_bench import FAULTS, count_lost, fault_spec
from bench.grader_requests import measure_grader_tokens
from bench.petri_bench import PETRI_PINS, ensure_petri
from bench.throughput import RunSpec, measure, write_conversations

DEFAULT_OUT = Path(__file__).resolve().parent / "results" / "latest.json"
TRAIT = "sycophancy"
TURNS = 6
NO_LIVE_METRICS = "--no-score-display"
"""Inspect's live metrics off, as `harness run` has them unless the display shows them."""
"""Target turns per conversation: the benchmark scenario's opening plus 5 ladder rungs."""


class BenchSettings(BaseModel):
    """What `make bench` runs (defaults: the full benchmark)."""

    model_config = ConfigDict(extra="forbid")

    latency_s: float = Field(default=0.2, gt=0)
    """The mock's fixed delay per request."""
    conversations: int = Field(default=200, ge=1, le=256)
    """Conversations of each throughput run (harness and bare loop; the scenario has 256 items)."""
    concurrency: list[int] = Field(default_factory=lambda: [8, 32, 64])
    """Concurrency of the throughput runs (`--max-connections` = `--max-samples`)."""
    compare_conversations: int = Field(default=160, ge=1, le=173)
    """Conversations of each run compared with Petri (Petri ships 173 seeds)."""
    compare_concurrency: int = Field(default=32, ge=1)
    """Concurrency of the runs compared with Petri."""
    fault_conversations: int = Field(default=64, ge=1, le=256)
    """Conversations of the fault run."""
    fault_concurrency: int = Field(default=32, ge=1)
    """Concurrency of the fault run."""
    petri: bool = True
    """Run Petri (creating its venv when missing)."""
    faults: bool = True
    """Run the fault configuration."""


def machine() -> dict[str, Any]:
    """Facts about this machine and how busy it was."""
    model = ""
    try:
        for line in Path("/proc/cpuinfo").read_text().splitlines():
            if line.startswith("model name"):
                model = line.split(":", 1)[1].strip()
                break
        ram = next(
            int(line.split()[1]) * 1024
            for line in Path("/proc/meminfo").read_text().splitlines()
            if line.startswith("MemTotal")
        )
    except (OSError, StopIteration, ValueError):
        ram = 0
    return {
        "platform": platform.platform(),
        "cpu_count": os.cpu_count(),
        "cpu_model": model,
        "ram_gb": round(ram / 2**30, 1),
        "python": platform.python_version(),
        "load_average_at_start": list(os.getloadavg()),
    }


def versions() -> dict[str, str]:
    """Versions of the packages the measurement depends on."""
    names = ("harness", "inspect_ai", "openai", "aiohttp", "pydantic", "xllamacpp")
    return {name: version(name) for name in names}


def _ratio(a: float | None, b: float | None) -> float | None:
    return a / b if a is not None and b else None


def throughput(settings: BenchSettings, work: Path, conv: Path) -> dict[str, Any]:
    """Harness (scripted, flip detector) and bare loop at each concurrency.

    Both run with `--no-score-display`, as `harness run` runs its tasks unless the display
    shows live metrics: with it on, inspect recomputes every metric about once a second
    even with `--display none`, deep-copying each sample's score and sample metadata per
    metric key. It changes nothing for the bare loop, which has no scorer. One diagnostic
    run measures the harness with live metrics on.
    """
    runs: dict[str, Any] = {}
    for concurrency in settings.concurrency:
        for tool in ("harness", "bare"):
            label = f"{tool}-c{concurrency}"
            print(f"[bench] {label}: {settings.conversations} conversations", flush=True)
            spec = RunSpec(
                label=label,
                tool=tool,  # type: ignore[arg-type]
                conversations=settings.conversations,
                concurrency=concurrency,
                latency_s=settings.latency_s,
                inspect_args=[NO_LIVE_METRICS],
            )
            run = measure(spec, work, conv)
            ideal = settings.conversations * TURNS * settings.latency_s / concurrency
            run["ideal_s"] = ideal
            run["overhead_ratio"] = _ratio(run["run_wall_s"], ideal)
            run["overhead_ratio_process_wall"] = _ratio(run["wall_s"], ideal)
            run["overhead_ratio_mock_window"] = _ratio(run["mock_window_s"], ideal)
            run["target_turns_per_s"] = _ratio(run["target_turns"], run["run_wall_s"])
            run["cpu_utilisation"] = _ratio(run["run_cpu_s"], run["run_wall_s"])
            runs[label] = run
    first = settings.concurrency[0]
    label = f"harness-c{first}-live-metrics"
    print(f"[bench] {label}: {settings.conversations} conversations", flush=True)
    spec = RunSpec(label=label, tool="harness", conversations=settings.conversations,
                   concurrency=first, latency_s=settings.latency_s)  # fmt: skip
    runs[label] = measure(spec, work, conv)
    return runs


def bend(runs: dict[str, Any], settings: BenchSettings) -> dict[str, Any]:
    """Where the harness's curve stops following latency: its CPU saturates one core.

    One process runs every conversation on one event loop, so it can serve at most
    1 / (CPU seconds per turn) turns a second; latency alone would allow
    concurrency / latency. They meet at concurrency = latency / CPU per turn.
    """
    harness = [runs[f"harness-c{c}"] for c in settings.concurrency]
    cpu_per_turn = min(r["run_cpu_s"] / r["target_turns"] for r in harness if r["target_turns"])
    return {
        "estimated_bend_concurrency": settings.latency_s / cpu_per_turn,
        "cpu_bound_turns_per_s": 1 / cpu_per_turn,
        "measured_turns_per_s": {
            str(c): runs[f"harness-c{c}"]["target_turns_per_s"] for c in settings.concurrency
        },
        "latency_bound_turns_per_s": {str(c): c / settings.latency_s for c in settings.concurrency},
    }


def comparison(
    settings: BenchSettings, work: Path, conv: Path, log: Path
) -> tuple[dict[str, Any], Any]:
    """Harness scripted and persona runs (grader on) and Petri, at one concurrency."""
    runs: dict[str, Any] = {}
    common = {
        "conversations": settings.compare_conversations,
        "concurrency": settings.compare_concurrency,
        "latency_s": settings.latency_s,
    }
    for driver in ("scripted", "persona"):
        label = f"harness-{driver}-graded"
        print(f"[bench] {label}: {settings.compare_conversations} conversations", flush=True)
        spec = RunSpec(
            label=label,
            tool="harness",
            driver=driver,  # type: ignore[arg-type]
            grader=True,
            record_messages=driver == "scripted",
            **common,  # type: ignore[arg-type]
        )
        runs[label] = measure(spec, work, conv)
    petri_ratio: Any = "not run (--no-petri)"
    if settings.petri:
        print("[bench] petri: venv", flush=True)
        python = ensure_petri(log)
        if isinstance(python, str):
            petri_ratio = f"Petri could not run: {python}"
        else:
            print(f"[bench] petri: {settings.compare_conversations} conversations", flush=True)
            spec = RunSpec(label="petri", tool="petri", turns=TURNS, **common)  # type: ignore[arg-type]
            runs["petri"] = measure(spec, work, conv, python)
    for run in runs.values():
        run["conversations_per_min"] = _ratio(
            60 * run["completed_samples"] if run.get("completed_samples") else None,
            run.get("inspect_total_s"),
        )
        run["conversations_per_min_mock_window"] = _ratio(
            60 * run["completed_samples"] if run.get("completed_samples") else None,
            run.get("mock_window_s"),
        )
    if "petri" in runs:
        petri_ratio = petri_ratios(runs, runs["petri"])
    return runs, petri_ratio


def petri_ratios(runs: dict[str, Any], petri: dict[str, Any]) -> dict[str, Any] | str:
    """Our conversations per minute over Petri's (Inspect's total time), or why not."""
    if petri.get("status") != "success" or not petri.get("completed_samples"):
        return f"Petri's run did not succeed: status {petri.get('status')}: {petri.get('error')}"
    ratios: dict[str, Any] = {}
    for driver in ("scripted", "persona"):
        ours = runs[f"harness-{driver}-graded"]
        ratios[driver] = _ratio(ours.get("conversations_per_min"), petri["conversations_per_min"])
    return ratios


def _cpu_per_turn(
    runs: dict[str, Any], tool: str, settings: BenchSettings, key: str = "cpu_s"
) -> float | None:
    chosen = [runs[f"{tool}-c{c}"] for c in settings.concurrency]
    return _ratio(sum(r[key] or 0 for r in chosen), sum(r["target_turns"] for r in chosen))


def headline(
    settings: BenchSettings, runs: dict[str, Any], grader: dict[str, Any]
) -> dict[str, Any]:
    """The top-level keys of latest.json from the runs."""
    first = settings.concurrency[0]
    return {
        "overhead_ratio": {
            str(c): runs[f"harness-c{c}"]["overhead_ratio"] for c in settings.concurrency
        },
        "cpu_ms_per_turn": {
            str(c): runs[f"harness-c{c}"]["cpu_ms_per_target_turn"] for c in settings.concurrency
        },
        "peak_rss_mb": {str(c): runs[f"harness-c{c}"]["peak_rss_mb"] for c in settings.concurrency},
        # Pooled over every concurrency: all CPU over all target turns, ours and the bare loop's.
        "floor_ratio": _ratio(
            _cpu_per_turn(runs, "harness", settings), _cpu_per_turn(runs, "bare", settings)
        ),
        "floor_ratio_by_concurrency": {
            str(c): _ratio(
                runs[f"harness-c{c}"]["cpu_ms_per_target_turn"],
                runs[f"bare-c{c}"]["cpu_ms_per_target_turn"],
            )
            for c in settings.concurrency
        },
        "floor_ratio_live_metrics": _ratio(
            runs[f"harness-c{first}-live-metrics"]["cpu_ms_per_target_turn"],
            runs[f"bare-c{first}"]["cpu_ms_per_target_turn"],
        ),
        # The same without interpreter start and inspect's import (equal for both).
        "floor_ratio_run_cpu": _ratio(
            _cpu_per_turn(runs, "harness", settings, "run_cpu_s"),
            _cpu_per_turn(runs, "bare", settings, "run_cpu_s"),
        ),
        "grader_token_ratio": grader.get("grader_token_ratio"),
        "grader_token_ratio_per_conversation": grader.get("grader_token_ratio_per_conversation"),
    }


def print_table(result: dict[str, Any], settings: BenchSettings) -> None:
    """The short table: one line per throughput concurrency, then the ratios."""

    def fmt(value: Any, digits: int = 2) -> str:
        return f"{value:.{digits}f}" if isinstance(value, float) else str(value)

    runs = result["runs"]
    print("\nconcurrency  overhead_ratio  cpu_ms/turn  bare_cpu_ms/turn  turns/s  peak_rss_MB")
    for c in settings.concurrency:
        ours, bare = runs[f"harness-c{c}"], runs[f"bare-c{c}"]
        print(
            f"{c:>11}  {fmt(ours['overhead_ratio']):>14}  "
            f"{fmt(ours['cpu_ms_per_target_turn'], 1):>11}  "
            f"{fmt(bare['cpu_ms_per_target_turn'], 1):>16}  "
            f"{fmt(ours['target_turns_per_s'], 0):>7}  {fmt(ours['peak_rss_mb'], 0):>11}"
        )
    bend_at = fmt(result["bend"]["estimated_bend_concurrency"], 1)
    print(f"\nCPU-bound from about {bend_at} concurrent conversations")
    for key in ("floor_ratio", "grader_token_ratio", "grader_token_ratio_per_conversation"):
        print(f"{key}: {fmt(result[key])}")
    petri = result["petri_ratio"]
    if isinstance(petri, dict):
        print(f"petri_ratio: scripted {fmt(petri['scripted'])}, persona {fmt(petri['persona'])}")
    else:
        print(f"petri_ratio: {petri}")
    print(f"samples_lost_under_faults: {result['samples_lost_under_faults']}")
    print(f"took {result['bench_wall_s'] / 60:.1f} min")


def parse(argv: list[str] | None) -> tuple[BenchSettings, Path, Path | None]:
    """Settings, output file and an optional work folder to keep, from the command line."""
    p = argparse.ArgumentParser(prog="python -m bench.run", description=__doc__.split("\n\n")[0])
    p.add_argument("--out", type=Path, default=DEFAULT_OUT)
    p.add_argument("--work", type=Path, help="keep logs and per-run files here (default: temp)")
    p.add_argument("--quick", action="store_true", help="small sizes, for development")
    p.add_argument("--conversations", type=int)
    p.add_argument("--concurrency", help="comma-separated, e.g. 8,32,64")
    p.add_argument("--compare-conversations", type=int)
    p.add_argument("--fault-conversations", type=int)
    p.add_argument("--no-petri", action="store_true")
    p.add_argument("--no-faults", action="store_true")
    args = p.parse_args(argv)
    values: dict[str, Any] = {}
    if args.quick:
        values = {"conversations": 32, "concurrency": [8, 32], "compare_conversations": 16,
                  "fault_conversations": 16}  # fmt: skip
    for key in ("conversations", "compare_conversations", "fault_conversations"):
        if getattr(args, key) is not None:
            values[key] = getattr(args, key)
    if args.concurrency:
        values["concurrency"] = [int(c) for c in args.concurrency.split(",")]
    values["petri"] = not args.no_petri
    values["faults"] = not args.no_faults
    return BenchSettings(**values), args.out, args.work


def main(argv: list[str] | None = None) -> int:
    """Run the benchmark, write latest.json and print the table."""
    settings, out, keep = parse(argv)
    started = time.monotonic()
    work = keep or Path(tempfile.mkdtemp(prefix="harness-bench-"))
    work.mkdir(parents=True, exist_ok=True)
    result: dict[str, Any] = {
        "date": datetime.now(UTC).isoformat(timespec="seconds"),
        "machine": machine(),
        "versions": versions(),
        "settings": settings.model_dump(),
    }
    try:
        largest = max(settings.conversations, settings.compare_conversations,
                      settings.fault_conversations)  # fmt: skip
        conv = work / "conversations.jsonl"
        ids = write_conversations(conv, largest)
        runs = throughput(settings, work, conv)
        compared, petri_ratio = comparison(settings, work, conv, work / "petri-venv.log")
        runs.update(compared)
        scripted = runs["harness-scripted-graded"]
        print("[bench] grader tokens", flush=True)
        grader = measure_grader_tokens(
            Path(scripted["requests_file"]), Path(scripted["log_dir"]), TRAIT
        )
        lost: Any = "not run (--no-faults)"
        if settings.faults:
            print(f"[bench] faults: {settings.fault_conversations} conversations", flush=True)
            spec = fault_spec(settings.fault_conversations, settings.fault_concurrency,
                              settings.latency_s)  # fmt: skip
            runs["faults"] = run = measure(spec, work, conv)
            expected = ids[: settings.fault_conversations]
            accounting = count_lost(Path(run["log_dir"]), expected, run["returncode"])
            run["accounting"] = accounting
            lost = accounting["samples_lost"]
        result.update(headline(settings, runs, grader))
        result["petri_ratio"] = petri_ratio
        result["samples_lost_under_faults"] = lost
        result["bend"] = bend(runs, settings)
        result["grader_tokens"] = grader
        result["settings"].update(
            {
                "turns": TURNS,
                "scenario": "bench/data/scenarios/sycophancy/bench-arithmetic.yaml",
                "fault_rates": FAULTS,
                "petri_packages": list(PETRI_PINS),
                "petri_options": ["-T", f"max_turns={TURNS}", "-T", "compaction=false"],
            }
        )
        result["runs"] = runs
        result["load_average_at_end"] = list(os.getloadavg())
        result["bench_wall_s"] = time.monotonic() - started
    finally:
        if keep is None:
            shutil.rmtree(work, ignore_errors=True)
    out.parent.mkdir(parents=True, exist_ok=True)
    out.write_text(json.dumps(result, indent=2) + "\n", encoding="utf-8")
    print_table(result, settings)
    print(f"wrote {out}")
    return 0


if __name__ == "__main__":
    sys.exit(main())
