"""kill -9 a `harness run` mid-way: the re-run finishes the rest and re-sends nothing finished.

The model server runs in the test process and records every request, so the test knows
which conversations the grader had finished (the last step of a sample) when the run
was killed, and what the re-run sent. The re-run gets a fresh inspect data folder: the
log folder alone must carry the finished samples (as on another machine), not inspect's
local sample buffer.
"""

from __future__ import annotations

import json
import os
import signal
import subprocess
import sys
import time
from collections.abc import Callable
from pathlib import Path
from typing import Any

import psutil
from inspect_ai.log import list_eval_logs, read_eval_log

from bench.mock_server import MockConfig, MockServer, RequestRecord
from bench.responders import caved_verdict
from harness.log import latest_samples

SAMPLES = 12
FINISHED_BEFORE_KILL = 4


def opening(record: RequestRecord) -> str:
    """The conversation's first user message: which sample a target request belongs to."""
    return next(str(m["content"]) for m in record.messages or [] if m["role"] == "user")


def graded_openings(records: list[RequestRecord], openings: set[str]) -> set[str]:
    """Openings of the conversations the grader answered (each prompt holds one transcript)."""
    graded: set[str] = set()
    for record in records:
        if record.model == "grader" and record.outcome == "ok" and record.done is not None:
            prompt = str((record.messages or [])[0]["content"])
            found = {o for o in openings if o in prompt}
            assert len(found) == 1, f"cannot tell which sample a grader prompt is for: {found}"
            graded |= found
    return graded


def logged_sample_ids(log_dir: Path) -> list[str]:
    ids: list[str] = []
    for info in list_eval_logs(str(log_dir)):
        try:
            ids += [str(s.id) for s in read_eval_log(info).samples or []]
        except Exception:  # a log being rewritten: read it on the next poll
            continue
    return ids


def mid_way(records: list[RequestRecord]) -> bool:
    """At least FINISHED_BEFORE_KILL conversations graded and one more begun."""
    openings = {opening(r) for r in records if r.model == "target"}
    graded = graded_openings(records, openings)
    return len(graded) >= FINISHED_BEFORE_KILL and bool(openings - graded)


def wait_for(condition: Callable[[], bool], timeout: float, process: subprocess.Popen[Any]) -> bool:
    deadline = time.monotonic() + timeout
    while not condition():
        assert process.poll() is None, f"harness run exited early ({process.returncode})"
        if time.monotonic() > deadline:
            return False
        time.sleep(0.05)
    return True


def test_a_killed_run_resumes_without_resending_finished_samples(tmp_path: Path) -> None:
    log_dir = tmp_path / "logs"
    harness = str(Path(sys.executable).parent / "harness")
    command = [
        harness, "run",
        "--model", "openai-api/mock/target",
        "--grader", "openai-api/mock/grader",
        "--arms", "pressure",
        "--scorers", "rubric",
        "--driver", "scripted",
        "--max-turns", "3",
        "--items-per-scenario", "1",
        "--limit", str(SAMPLES),
        "--max-connections", "3",
        "--log-dir", str(log_dir),
        "--display", "none",
    ]  # fmt: skip
    config = MockConfig(
        latency_s=0.2, models={"target": {}, "grader": {"responder": caved_verdict}}
    )
    with MockServer(config) as server:
        env = {
            **os.environ,
            "MOCK_BASE_URL": server.base_url,
            "MOCK_API_KEY": "test-key",
            "INSPECT_CACHE_DIR": str(tmp_path / "cache"),
            "XDG_DATA_HOME": str(tmp_path / "data-first"),
        }
        output = (tmp_path / "first.out").open("w")
        first = subprocess.Popen(
            command, env=env, stdout=output, stderr=subprocess.STDOUT, start_new_session=True
        )
        try:
            # Enough samples finished, and another conversation started but not graded (on
            # a loaded machine the run can sit between conversations for a moment).
            assert wait_for(lambda: mid_way(server.requests), 180, first), "no sample finished"
            # Freeze the run: conversations in flight stay in flight, none finishes.
            server.pause()
            assert wait_for(lambda: all(r.done or r.held for r in server.requests), 30, first)
            records = server.requests
            openings = {opening(r) for r in records if r.model == "target"}
            finished = graded_openings(records, openings)
            assert FINISHED_BEFORE_KILL <= len(finished) < SAMPLES
            # A finished sample is one the harness has scored; give it the moment to
            # write it (it must reach the log file, which is all the re-run will have).
            wait_for(lambda: len(logged_sample_ids(log_dir)) >= len(finished), 30, first)
            group = [p for p in psutil.Process(first.pid).children(recursive=True)]
        finally:
            os.killpg(first.pid, signal.SIGKILL)
            first.wait(30)
            output.close()
        psutil.wait_procs(group, timeout=10)
        assert not [p for p in group if p.is_running() and p.status() != "zombie"]
        in_flight = openings - finished
        assert in_flight, "the run was not killed mid-way"

        server.reset()
        server.release()
        env["XDG_DATA_HOME"] = str(tmp_path / "data-second")
        second = subprocess.run(
            command, env=env, capture_output=True, text=True, timeout=300, start_new_session=True
        )
        assert second.returncode == 0, second.stdout[-3000:] + second.stderr[-3000:]
        resent = [r for r in server.requests if r.model == "target"]

    # The logs hold every sample exactly once.
    logs = [read_eval_log(info) for info in list_eval_logs(str(log_dir))]
    samples = [s for log in latest_samples(logs)["pressure"] for s in log.samples or []]
    assert len({(str(s.id), s.epoch) for s in samples}) == len(samples) == SAMPLES
    all_openings = {next(m.text for m in s.messages if m.role == "user") for s in samples}
    assert len(all_openings) == SAMPLES and finished <= all_openings

    # The re-run sent the unfinished samples (in flight or not yet started) and nothing
    # of a finished one.
    resent_openings = {opening(r) for r in resent}
    assert not resent_openings & finished, "finished samples were sent again"
    assert resent_openings == all_openings - finished
    assert in_flight <= resent_openings
    for sample in samples:
        score = (sample.scores or {}).get("rubric_grader")
        assert sample.error is None and score is not None, sample.id
        assert isinstance(score.value, dict) and score.value["violation"] == 1, sample.id
    report = json.loads((log_dir / "report.json").read_text())
    assert sum(t["multi_turn"]["conversations"] for t in report["traits"].values()) == SAMPLES
