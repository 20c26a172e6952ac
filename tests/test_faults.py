"""Under provider faults a `harness run` loses no sample and never turns an error into a pass.

The target, the attacker and the grader are all served by the mock server with 10% HTTP
5xx, 5% timeouts, 2% malformed bodies and 2% dropped connections. Whenever the mock
grader does answer, its verdict says the target caved on every turn, so a scored
conversation without a violation could only come from an error path: there must be none.
"""

from __future__ import annotations

import json
from pathlib import Path

import pytest
from inspect_ai.log import list_eval_logs, read_eval_log

from bench.mock_server import FAULT_KINDS, FaultRates, MockConfig, MockServer
from bench.responders import caved_verdict
from harness._cli import main
from harness.log import latest_samples
from harness.task import pressure

FAULTS = FaultRates(http_5xx=0.10, timeout=0.05, malformed=0.02, dropped=0.02)
ROLES = ("target", "attacker", "grader")
SAMPLES = 24
TASK_ARGS = {"driver": "persona", "max_turns": 3, "items_per_scenario": 1, "limit": SAMPLES}


def test_a_run_under_faults_loses_nothing_and_never_passes_an_error(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch, capsys: pytest.CaptureFixture[str]
) -> None:
    config = MockConfig(
        latency_s=0.01,
        seed=11,
        faults=FAULTS,
        # Far longer than the 1-second attempt timeout below: the client must give up.
        timeout_hold_s=60,
        models={
            "target": {"mode": "echo"},
            "attacker": {"canned": ["I really doubt that. Are you sure?"]},
            "grader": {"responder": caved_verdict},
        },
    )
    expected = {str(s.id) for s in pressure(scorers="rubric", **TASK_ARGS).dataset}  # type: ignore[arg-type]
    assert len(expected) == SAMPLES
    log_dir = tmp_path / "logs"
    with MockServer(config) as server:
        # A service name of its own: inspect memoizes models by name, not by base URL.
        monkeypatch.setenv("FAULTS_BASE_URL", server.base_url)
        monkeypatch.setenv("FAULTS_API_KEY", "test-key")
        code = main(
            [
                "run",
                "--model", "openai-api/faults/target",
                "--attacker", "openai-api/faults/attacker",
                "--grader", "openai-api/faults/grader",
                "--arms", "pressure",
                "--scorers", "rubric",
                "--driver", "persona",
                "--max-turns", "3",
                "--items-per-scenario", "1",
                "--limit", str(SAMPLES),
                "--attempt-timeout", "1",
                "--log-dir", str(log_dir),
                "--display", "none",
            ]
        )  # fmt: skip
        server.wait_idle()
        stats = server.stats()
    capsys.readouterr()
    assert code == 0

    # Every fault kind happened, and every role met faults.
    outcomes = {model: stats["models"][model]["outcomes"] for model in ROLES}
    print("fault counts per role:", json.dumps(outcomes))  # kept with -s, for the record
    for kind in FAULT_KINDS:
        assert sum(o[kind] for o in outcomes.values()) > 0, f"no {kind} fault happened"
    for model, counts in outcomes.items():
        assert sum(counts[k] for k in FAULT_KINDS) > 0, f"{model} met no fault"

    # No sample lost: the logs hold each sample of the dataset exactly once.
    logs = [read_eval_log(info) for info in list_eval_logs(str(log_dir))]
    samples = [s for log in latest_samples(logs)["pressure"] for s in log.samples or []]
    ids = [str(s.id) for s in samples]
    assert sorted(ids) == sorted(expected)

    # Each sample is scored (as the violation the grader always reports) or unscored
    # with a reason; an error never reads as a pass.
    for sample in samples:
        score = (sample.scores or {}).get("rubric_grader")
        if sample.error is not None:
            continue  # counted as unscored (sample_error) by the report
        assert score is not None and isinstance(score.value, dict), sample.id
        if score.value["unscored"] == 1:
            assert (score.metadata or {}).get("unscored_reason"), sample.id
        else:
            assert score.value["violation"] == 1, f"{sample.id} scored as a pass: {score}"

    # The report agrees: every conversation counted, every scored one a violation.
    report = json.loads((log_dir / "report.json").read_text())
    multi = [trait["multi_turn"] for trait in report["traits"].values()]
    assert sum(m["conversations"] for m in multi) == SAMPLES
    assert sum(m["violations"] for m in multi) == sum(m["scored"] for m in multi)
    assert sum(m["scored"] + m["unscored"] for m in multi) == SAMPLES
    for m in multi:
        assert sum(m["unscored_reasons"].values()) == m["unscored"]
