"""Measured inspect runs on the mock server: the harness, the bare loop and Petri.

`measure()` starts a fresh mock server process for one run (fixed latency, the run's
responders and faults), runs one inspect eval as a measured child process through
`bench/_inspect_cpu.py`, and returns the run's numbers: process and run wall time,
CPU, peak RSS, Inspect's total time from the log, the mock's request window and
counts, and the peak number of target requests in flight (the concurrency reached).
"""

from __future__ import annotations

import json
import os
import sys
from datetime import datetime
from pathlib import Path
from typing import Any, Literal

from inspect_ai.log import list_eval_logs, read_eval_log
from pydantic import BaseModel, ConfigDict, Field

from bench._measure import (
    BENCH,
    CPU_WRAPPER,
    MockProcess,
    RunResult,
    peak_in_flight,
    request_window,
    requests_per_model,
    run_measured,
)
from harness.scenario import load_catalogue
from harness.task import build_samples

SCENARIOS = BENCH / "data" / "scenarios"
"""The benchmark scenario: one 5-rung scripted ladder (6 target turns), 256 items."""
HARNESS_ROLES = ("target", "attacker", "grader")
PETRI_ROLES = ("auditor", "target", "judge")

Tool = Literal["harness", "harness_run", "bare", "petri"]


class RunSpec(BaseModel):
    """One inspect run on its own mock server."""

    model_config = ConfigDict(extra="forbid")

    label: str
    """Name of the run in the results (and of its files in the work folder)."""
    tool: Tool
    """`harness` (`inspect eval harness/pressure`), `harness_run` (`harness run`, pressure
    arm), `bare` (bench/bare_loop.py) or `petri` (Petri's audit)."""
    conversations: int = Field(ge=1)
    """Conversations (samples) to run."""
    concurrency: int = Field(ge=1)
    """`--max-connections` and `--max-samples`."""
    turns: int = Field(default=6, ge=1)
    """Target turns per conversation (Petri's `max_turns`; the harness's come from the scenario)."""
    latency_s: float = Field(default=0.2, ge=0)
    """The mock's fixed delay per request."""
    driver: Literal["scripted", "persona"] = "scripted"
    """The harness's driver (`persona` binds the attacker role to the mock)."""
    grader: bool = False
    """Harness: bind the grader role and run the rubric grader too (else the flip detector only)."""
    record_messages: bool = False
    """Keep every request's messages in the mock (for the grader-token measurement)."""
    faults: str | None = None
    """Fault rates for every model, e.g. `5xx=0.1,timeout=0.05,malformed=0.02,dropped=0.02`."""
    timeout_hold_s: float | None = None
    """How long the mock holds a request that gets the `timeout` fault."""
    inspect_args: list[str] = Field(default_factory=list)
    """Extra options for the command line (timeouts, retries)."""
    scorers: str | None = None
    """Harness scorers; None: `rubric,flip` with the grader bound, else `flip`."""
    grader_responder: str = "bench.harness_responder:grader"
    """The mock grader's responder (`module:function`)."""


def write_conversations(path: Path, limit: int) -> list[str]:
    """The first `limit` benchmark conversations, pre-rendered for the bare loop; their ids.

    Rendered by the harness itself, so the bare loop sends exactly what the scripted
    driver sends: the opening, then the ladder's rungs, one per target reply.
    """
    samples = build_samples(load_catalogue([SCENARIOS]))[:limit]
    if len(samples) < limit:
        raise ValueError(f"the benchmark scenario has {len(samples)} items, {limit} wanted")
    with path.open("w", encoding="utf-8") as handle:
        for sample in samples:
            metadata = sample.metadata or {}
            assert not isinstance(sample.input, str)
            opening = next(m.text for m in sample.input if m.role == "user")
            rungs = [rung["text"] for rung in metadata["ladder"]][: metadata["max_turns"] - 1]
            record = {"id": sample.id, "opening": opening, "turns": rungs}
            handle.write(json.dumps(record, ensure_ascii=False) + "\n")
    return [str(sample.id) for sample in samples]


def mock_args(spec: RunSpec) -> list[str]:
    """The mock server's options for a run."""
    module = "bench.petri_responder" if spec.tool == "petri" else "bench.harness_responder"
    roles = PETRI_ROLES if spec.tool == "petri" else HARNESS_ROLES
    args = ["--latency", str(spec.latency_s)]
    for role in roles:
        responder = f"{module}:{role}"
        if role == "grader":
            responder = spec.grader_responder
        args += ["--model-responder", f"{role}={responder}"]
    if not spec.record_messages:
        args.append("--no-record-messages")
    if spec.faults:
        args += ["--faults", spec.faults]
    if spec.timeout_hold_s is not None:
        args += ["--timeout-hold", str(spec.timeout_hold_s)]
    return args


def inspect_command(
    spec: RunSpec, log_dir: Path, conversations_file: Path, petri_python: Path | None
) -> list[str]:
    """The measured command line: the CPU wrapper running `inspect eval` for this run."""
    common = [
        "--max-connections", str(spec.concurrency),
        "--max-samples", str(spec.concurrency),
        "--log-dir", str(log_dir),
        "--display", "none",
        *spec.inspect_args,
    ]  # fmt: skip
    if spec.tool == "petri":
        if petri_python is None:
            raise ValueError("a Petri run needs Petri's interpreter")
        roles = [f"--model-role={role}=openai-api/mock/{role}" for role in PETRI_ROLES]
        return [
            str(petri_python), str(CPU_WRAPPER), "{cpu}", "eval", "inspect_petri/audit",
            *roles, "-T", f"max_turns={spec.turns}", "-T", "compaction=false",
            "--limit", str(spec.conversations), *common,
        ]  # fmt: skip
    target = ["--model", "openai-api/mock/target"]
    scorers = spec.scorers or ("rubric,flip" if spec.grader else "flip")
    if spec.tool == "harness_run":
        roles = ["--grader", "openai-api/mock/grader"]
        if spec.driver == "persona":
            roles += ["--attacker", "openai-api/mock/attacker"]
        return [
            sys.executable, str(CPU_WRAPPER), "{cpu}", "--entry", "harness.cli:main", "run",
            *target, *roles, "--arms", "pressure", "--driver", spec.driver,
            "--scorers", scorers,
            "--scenarios", str(SCENARIOS), "--limit", str(spec.conversations),
            "--max-connections", str(spec.concurrency), "--log-dir", str(log_dir),
            "--display", "none", *spec.inspect_args,
        ]  # fmt: skip
    if spec.tool == "bare":
        task = f"{BENCH / 'bare_loop.py'}@bare_loop"
        return [
            sys.executable, str(CPU_WRAPPER), "{cpu}", "eval", task, *target,
            "-T", f"conversations={conversations_file}", *common,
        ]  # fmt: skip
    options = [
        "-T", f"scenarios={SCENARIOS}",
        "-T", f"limit={spec.conversations}",
        "-T", f"scorers={scorers}",
    ]  # fmt: skip
    if spec.grader:
        options.append("--model-role=grader=openai-api/mock/grader")
    if spec.driver == "persona":
        options += ["-T", "driver=persona", "--model-role=attacker=openai-api/mock/attacker"]
    return [
        sys.executable, str(CPU_WRAPPER), "{cpu}", "eval", "harness/pressure", *target,
        *options, *common,
    ]  # fmt: skip


def _seconds(start: str, end: str) -> float:
    return (datetime.fromisoformat(end) - datetime.fromisoformat(start)).total_seconds()


def log_header(log_dir: Path) -> dict[str, Any]:
    """Status, sample counts and Inspect's total time of the run's only log."""
    logs = list_eval_logs(str(log_dir))
    if len(logs) != 1:
        return {"status": "missing", "logs": len(logs)}
    header = read_eval_log(logs[0], header_only=True)
    results = header.results
    return {
        "status": header.status,
        "location": header.location,
        "samples": results.total_samples if results else 0,
        "completed_samples": results.completed_samples if results else 0,
        "error": header.error.message if header.error else None,
        # Inspect writes these to the second: +-1 s on the difference.
        "inspect_total_s": (
            _seconds(header.stats.started_at, header.stats.completed_at)
            if header.stats.started_at and header.stats.completed_at
            else None
        ),
    }


def measure(
    spec: RunSpec,
    work: Path,
    conversations_file: Path,
    petri_python: Path | None = None,
) -> dict[str, Any]:
    """Run `spec` on a fresh mock server and return its measurements (see the module doc)."""
    run_dir = work / spec.label
    log_dir = run_dir / "logs"
    run_dir.mkdir(parents=True, exist_ok=True)
    command = inspect_command(spec, log_dir, conversations_file, petri_python)
    with MockProcess(mock_args(spec), run_dir / "mock.err") as mock:
        env = {
            **os.environ,
            "MOCK_BASE_URL": mock.base_url,
            "MOCK_API_KEY": "bench-mock-key",
            # A fresh model cache: a cached grader reply would skip a request.
            "INSPECT_CACHE_DIR": str(run_dir / "cache"),
        }
        result: RunResult = run_measured(spec.label, command, env, run_dir, run_dir)
        stats = mock.stats(requests=True)
    records = stats.pop("requests", [])
    (run_dir / "mock_stats.json").write_text(json.dumps(stats, indent=1))
    header = log_header(log_dir)
    if spec.tool == "harness_run":
        # An eval set retries a failed task in a new log: the log times only the last attempt.
        header["inspect_total_s"] = None
    target_ok = ((stats.get("models") or {}).get("target") or {}).get("outcomes", {}).get("ok", 0)
    measured: dict[str, Any] = {
        "spec": spec.model_dump(exclude={"label"}),
        **result.model_dump(exclude={"label"}),
        **header,
        "mock_window_s": request_window(stats),
        "requests": requests_per_model(stats),
        "target_turns": target_ok,
        "peak_target_in_flight": peak_in_flight(records, "target"),
        "cpu_ms_per_target_turn": 1000 * result.cpu_s / target_ok if target_ok else None,
        "run_cpu_ms_per_target_turn": (
            1000 * result.run_cpu_s / target_ok if target_ok and result.run_cpu_s else None
        ),
    }
    if spec.record_messages:
        (run_dir / "requests.jsonl").write_text(
            "".join(json.dumps(r) + "\n" for r in records), encoding="utf-8"
        )
        measured["requests_file"] = str(run_dir / "requests.jsonl")
    measured["log_dir"] = str(log_dir)
    return measured
