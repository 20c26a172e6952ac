"""`samples_lost_under_faults`: `harness run` under injected faults on every model role.

The fault configuration of issue 7 (as `tests/test_faults.py` runs it): 10% HTTP 5xx,
5% timeouts, 2% malformed bodies and 2% dropped connections on the target, the
attacker and the grader; persona driver, rubric grader, `harness run` with an attempt
timeout (its retries of requests and samples are its defaults). The mock grader
answers, whenever it answers, that the target caved on every turn, so a conversation
scored without a violation can only come from an error path. A sample counts as lost
when it is

- missing from the logs (`missing`: not among the newest result of each sample);
- scored as a pass (`pass_after_error`);
- unscored without a reason (`no_reason`).

A sample that still errors after its retries stays in the log with its error, and the
report counts it as unscored (`sample_error`): it is listed (`errored`), not lost.
"""

from __future__ import annotations

import json
from pathlib import Path
from typing import Any

from inspect_ai.log import list_eval_logs, read_eval_log

from bench.throughput import RunSpec
from harness.log import latest_samples

FAULTS = "5xx=0.1,timeout=0.05,malformed=0.02,dropped=0.02"
"""Issue 7's fault rates, for every model."""
TIMEOUT_HOLD_S = 60.0
"""How long the mock holds a `timeout` request (far longer than the client waits)."""
ATTEMPT_TIMEOUT_S = 2
"""`harness run --attempt-timeout`: a silent request is abandoned and retried after this."""
SCORER = "rubric_grader"


def fault_spec(conversations: int, concurrency: int, latency_s: float) -> RunSpec:
    """The fault run: `harness run`, persona driver, rubric grader, faults on every role."""
    return RunSpec(
        label="faults",
        tool="harness_run",
        conversations=conversations,
        concurrency=concurrency,
        latency_s=latency_s,
        driver="persona",
        grader=True,
        scorers="rubric",
        grader_responder="bench.responders:caved_verdict",
        faults=FAULTS,
        timeout_hold_s=TIMEOUT_HOLD_S,
        inspect_args=["--attempt-timeout", str(ATTEMPT_TIMEOUT_S)],
    )


def sample_problem(sample: Any) -> str | None:
    """Why a sample of the fault run counts as lost, or None when it is accounted for."""
    if sample.error is not None:
        return None  # unscored (sample_error) in the report
    score = (sample.scores or {}).get(SCORER)
    if score is None or not isinstance(score.value, dict):
        return "no_reason"
    if score.value.get("unscored") == 1:
        return None if (score.metadata or {}).get("unscored_reason") else "no_reason"
    return None if score.value.get("violation") == 1 else "pass_after_error"


def count_lost(log_dir: Path, expected: list[str], returncode: int) -> dict[str, Any]:
    """Account for every expected sample of the fault run (see the module doc)."""
    logs = [read_eval_log(info) for info in list_eval_logs(str(log_dir))]
    samples = [s for log in latest_samples(logs).get("pressure", []) for s in log.samples or []]
    ids = [str(s.id) for s in samples]
    counts = {
        "missing": len(set(expected) - set(ids)),
        "pass_after_error": 0,
        "no_reason": 0,
    }
    unscored: dict[str, int] = {}
    for sample in samples:
        problem = sample_problem(sample)
        if problem is not None:
            counts[problem] += 1
        score = (sample.scores or {}).get(SCORER)
        if sample.error is not None:
            unscored["sample_error"] = unscored.get("sample_error", 0) + 1
        elif score is not None and isinstance(score.value, dict) and score.value.get("unscored"):
            reason = str((score.metadata or {}).get("unscored_reason"))
            unscored[reason] = unscored.get(reason, 0) + 1
    report = log_dir / "report.json"
    return {
        "samples_lost": sum(counts.values()),
        **counts,
        "expected": len(expected),
        "samples": len(samples),
        "duplicates": len(ids) - len(set(ids)),
        "errored": unscored.get("sample_error", 0),
        "scored": len(samples) - sum(unscored.values()),
        "unscored_reasons": unscored,
        "logs": len(logs),
        "log_statuses": [log.status for log in logs],
        "exit_code": returncode,
        "report_written": report.is_file(),
        "sample_retries": sum(len(s.error_retries or []) for s in samples),
        "report_conversations": (
            sum(
                t["multi_turn"]["conversations"]
                for t in json.loads(report.read_text())["traits"].values()
            )
            if report.is_file()
            else None
        ),
    }
