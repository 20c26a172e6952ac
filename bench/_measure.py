"""Measurement plumbing for `make bench`: the mock server process, measured inspect runs, logs.

Every inspect run is a child process started here and reaped with `os.wait4`, which
gives that child's own CPU time (its reaped children included) and peak RSS. The mock
server is another child, started and stopped by pid, so its CPU is never counted.
"""

from __future__ import annotations

import json
import os
import signal
import subprocess
import sys
import time
import urllib.request
from collections.abc import Sequence
from pathlib import Path
from typing import Any

from pydantic import BaseModel, ConfigDict

REPO = Path(__file__).resolve().parent.parent
BENCH = REPO / "bench"
CPU_WRAPPER = BENCH / "_inspect_cpu.py"


class MockProcess:
    """`python -m bench.mock_server` in its own process, on a free loopback port."""

    def __init__(self, args: Sequence[str], log: Path) -> None:
        self.args = list(args)
        self.log = log
        self.proc: subprocess.Popen[str] | None = None
        self.port = 0

    def __enter__(self) -> MockProcess:
        with self.log.open("w") as err:
            self.proc = subprocess.Popen(
                [sys.executable, "-m", "bench.mock_server", "--port", "0", *self.args],
                cwd=REPO,
                stdout=subprocess.PIPE,
                stderr=err,
                text=True,
            )
        assert self.proc.stdout is not None
        line = self.proc.stdout.readline()
        if not line:
            self.proc.wait(10)
            raise RuntimeError(f"mock server did not start: {self.log.read_text()[-2000:]}")
        self.port = int(json.loads(line)["port"])
        return self

    def __exit__(self, *exc: object) -> None:
        if self.proc is not None and self.proc.poll() is None:
            os.kill(self.proc.pid, signal.SIGTERM)
            try:
                self.proc.wait(15)
            except subprocess.TimeoutExpired:
                os.kill(self.proc.pid, signal.SIGKILL)
                self.proc.wait(15)

    @property
    def base_url(self) -> str:
        """The OpenAI base URL inspect's `openai-api/mock/...` models use."""
        return f"http://127.0.0.1:{self.port}/v1"

    def stats(self, requests: bool = False) -> dict[str, Any]:
        """`GET /stats` (with every request's record when `requests`)."""
        url = f"http://127.0.0.1:{self.port}/stats" + ("?requests=1" if requests else "")
        with urllib.request.urlopen(url, timeout=60) as response:
            result: dict[str, Any] = json.load(response)
        return result


class RunResult(BaseModel):
    """One measured child process."""

    model_config = ConfigDict(extra="forbid")

    label: str
    """What was run."""
    returncode: int
    """The child's exit status (inspect exits 0 even when no sample completed)."""
    wall_s: float
    """Process wall time, start to exit."""
    cpu_s: float
    """User + system CPU of the process and its reaped children (`os.wait4`)."""
    peak_rss_mb: float
    """Peak resident set size of the process, MiB."""
    startup_wall_s: float | None = None
    """Wall time until inspect's CLI was imported (interpreter start and imports)."""
    startup_cpu_s: float | None = None
    """CPU time until inspect's CLI was imported."""
    run_wall_s: float | None = None
    """Wall time from inspect's CLI imported to exit: the run itself."""
    run_cpu_s: float | None = None
    """CPU time from inspect's CLI imported to exit."""


def run_measured(
    label: str,
    command: Sequence[str],
    env: dict[str, str],
    cwd: Path,
    out_dir: Path,
) -> RunResult:
    """Run `command` (an inspect CLI call through the CPU wrapper) and measure it.

    `command` is `[python, CPU_WRAPPER, "{cpu}", ...]`: "{cpu}" is replaced by the file
    the wrapper writes its marks to. Output goes to `out_dir/<label>.{out,err}`.
    """
    out_dir.mkdir(parents=True, exist_ok=True)
    cpu_file = out_dir / f"{label}.cpu.json"
    cpu_file.unlink(missing_ok=True)
    argv = [str(cpu_file) if part == "{cpu}" else part for part in command]
    started = time.monotonic()
    with (out_dir / f"{label}.out").open("w") as out, (out_dir / f"{label}.err").open("w") as err:
        proc = subprocess.Popen(argv, cwd=cwd, env=env, stdout=out, stderr=err)
        _, status, usage = os.wait4(proc.pid, 0)
    wall = time.monotonic() - started
    proc.returncode = os.waitstatus_to_exitcode(status)
    result = RunResult(
        label=label,
        returncode=proc.returncode,
        wall_s=wall,
        cpu_s=usage.ru_utime + usage.ru_stime,
        peak_rss_mb=usage.ru_maxrss / 1024,
    )
    if cpu_file.is_file():
        marks = json.loads(cpu_file.read_text())
        result.startup_wall_s = marks["imported"]["wall"] - marks["start"]["wall"]
        result.startup_cpu_s = marks["imported"]["cpu"]
        result.run_wall_s = marks["exit"]["wall"] - marks["imported"]["wall"]
        result.run_cpu_s = marks["exit"]["cpu"] - marks["imported"]["cpu"] + marks["children_cpu"]
    return result


def peak_in_flight(records: list[dict[str, Any]], model: str) -> int:
    """The most requests to `model` the mock held at once (from `/stats?requests=1`)."""
    events: list[tuple[float, int]] = []
    for record in records:
        if record["model"] == model and record.get("done") is not None:
            events += [(record["time"], 1), (record["done"], -1)]
    peak = current = 0
    # Ends sort before starts at the same instant: a finished slot is free again.
    for _, step in sorted(events):
        current += step
        peak = max(peak, current)
    return peak


def request_window(stats: dict[str, Any]) -> float | None:
    """Seconds from the mock's first request to its last answer (all models)."""
    totals = stats.get("totals") or {}
    first, last = totals.get("first_request_at"), totals.get("last_answer_at")
    return None if first is None or last is None else float(last) - float(first)


def requests_per_model(stats: dict[str, Any]) -> dict[str, dict[str, Any]]:
    """Requests and outcomes per model name."""
    return {
        name: {"requests": model["requests"], "outcomes": model["outcomes"]}
        for name, model in (stats.get("models") or {}).items()
    }


def machine(load_before: tuple[float, float, float]) -> dict[str, Any]:
    """The machine block of a results file: cores, Python, and the load before and after."""
    import platform

    return {
        "cores": os.cpu_count(),
        "python": platform.python_version(),
        "load_before": load_before,
        "load_after": os.getloadavg(),
    }
