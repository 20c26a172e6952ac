"""The worked examples: the CI template's commands parse, the regression script is sound."""

from __future__ import annotations

import json
import re
import shlex
import subprocess
import time
from pathlib import Path

import pytest
import yaml

from harness._cli._main import build_parser
from tests.conftest import REPO

CI_TEMPLATE = REPO / "examples/ci/github-actions.yml"
REGRESSION = REPO / "examples/regression/run.sh"


def harness_commands(script: str) -> list[list[str]]:
    """Every `harness ...` command line of a shell script, continuation lines joined."""
    joined = re.sub(r"\\\n\s*", " ", script)
    commands = []
    for line in joined.splitlines():
        match = re.search(r"(?:\$HARNESS|\bharness) (\w.*)", line)
        if match and not line.lstrip().startswith("#"):
            command = re.split(r" >>? | \|\| |;", match.group(1))[0]
            words = shlex.split(command)
            words = [w for w in words if not re.fullmatch(r"\$\{\w+\[@\]\}", w)]
            commands.append([re.sub(r"\$\{?\w+\}?", "X", w) for w in words])
    return commands


def test_ci_template_serves_runs_compares_and_posts_the_summary() -> None:
    workflow = yaml.safe_load(CI_TEMPLATE.read_text())
    steps = workflow["jobs"]["gate"]["steps"]
    script = "\n".join(step.get("run", "") for step in steps)
    assert "--engine vllm" in script and "127.0.0.1" in script
    assert "GITHUB_STEP_SUMMARY" in script and "exit $code" in script
    commands = harness_commands(script)
    assert [c[0] for c in commands] == ["serve", "run", "compare"]
    parser = build_parser()
    for command in commands:
        if command[0] == "serve":
            command = command[: command.index("--")] if "--" in command else command
        parser.parse_args(command)  # the flags the template uses exist


def test_regression_script_commands_parse() -> None:
    script = REGRESSION.read_text()
    commands = harness_commands(script)
    assert commands[0][:3] == ["organisms", "build", "caver"]  # the candidate
    assert [c[0] for c in commands].count("run") == 2  # single- and multi-turn, then knowledge
    assert commands[-1][0] == "compare" and "--method" in commands[-1]
    assert not any("--grader" in c for c in commands)  # no grader bound anywhere
    parser = build_parser()
    for command in commands:
        parser.parse_args(command)
    result = subprocess.run(["bash", "-n", str(REGRESSION)], capture_output=True, text=True)
    assert result.returncode == 0, result.stderr


@pytest.mark.slow
def test_regression_example_runs_and_exits_with_the_verdict(tmp_path: Path) -> None:
    started = time.monotonic()
    result = subprocess.run(
        ["bash", str(REGRESSION), str(tmp_path / "out")],
        capture_output=True,
        text=True,
        cwd=REPO,
        # Measured 14.5 minutes on 2 cores with the caver cached; a first run also creates
        # the training environment and builds the caver (about 5 minutes more).
        timeout=1800,
    )
    assert time.monotonic() - started < 1800
    # The caver is the release a single-turn eval waves through: its single-turn arm shows a
    # significant improvement that does not survive multi-turn pressure. (Read by today's
    # flip detector, the base itself caves in over half of its decided conversations, so
    # whether the multi-turn increase also clears the gate's margin rule at 40 items is
    # measured, not assumed; the exit code must agree with the verdict either way.)
    assert result.returncode in (0, 1), result.stdout[-3000:] + result.stderr[-3000:]
    document = json.loads((tmp_path / "out" / "compare.json").read_text())
    assert (result.returncode == 1) == document["regression"]
    rows = {r["arm"]: r for r in document["comparisons"] if r["trait"] == "sycophancy"}
    assert rows["single_turn"]["difference"] < 0 and rows["single_turn"]["ci95"][1] < 0
    assert rows["pressure"]["difference"] > 0  # no improvement under pressure: worse
    summary = (tmp_path / "out" / "compare.md").read_text()
    assert ("**REGRESSION**" in summary) == document["regression"]
    assert {c["label"] for c in document["checkpoints"]} == {"baseline", "candidate"}
    assert {r["arm"] for r in document["comparisons"]} >= {"single_turn", "knowledge"}
    for name in ("compare.html", "baseline/report.md", "candidate/report.html"):
        assert (tmp_path / "out" / name).is_file(), name
