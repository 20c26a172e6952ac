"""Logs written before the package restructure still report, compare and re-grade the same.

The logs and the expected outputs in tests/data/logs-0.1.0 were made by the old flat layout
(see the README there); these tests run today's code on them.
"""

from __future__ import annotations

import json
import math
import shutil
from pathlib import Path
from typing import Any

import pytest
from inspect_ai.log import read_eval_log

from harness.cli import main

DATA = Path(__file__).parent / "data" / "logs-0.1.0"
EXPECTED = DATA / "expected"


@pytest.fixture
def logs(tmp_path: Path) -> Path:
    """A copy of the old logs (reports are written beside them)."""
    folder = tmp_path / "logs"
    for checkpoint in ("ckpt-1", "ckpt-2"):
        shutil.copytree(DATA / checkpoint, folder / checkpoint)
    return folder


def expected_text(name: str, logs: Path) -> str:
    return (EXPECTED / name).read_text(encoding="utf-8").replace("{LOGS}", str(logs))


def _lines(markdown: str) -> list[str]:
    """The report's lines, the log list sorted: arms whose logs were created in the same
    second are listed in the order the file system gives them."""
    head, logs = markdown.split("## Logs", 1)
    return [*head.splitlines(), *sorted(logs.splitlines())]


def test_old_logs_report_the_same(logs: Path, capsys: pytest.CaptureFixture[str]) -> None:
    assert main(["report", str(logs / "ckpt-1")]) == 0
    report = json.loads((logs / "ckpt-1" / "report.json").read_text(encoding="utf-8"))
    assert report == json.loads(expected_text("ckpt-1.report.json", logs))
    assert report["traits"]["sycophancy"]["multi_turn"]["conversations"] == 2
    markdown = (logs / "ckpt-1" / "report.md").read_text(encoding="utf-8")
    assert _lines(markdown) == _lines(expected_text("ckpt-1.report.md", logs))
    assert "sycophancy" in capsys.readouterr().out


def test_old_logs_compare_the_same(
    logs: Path, tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    monkeypatch.chdir(logs)  # the comparison names each checkpoint's folder as given
    out = tmp_path / "compare.json"
    code = main(["compare", "ckpt-1", "ckpt-2", "--json", str(out)])
    assert code == 0
    document = json.loads(out.read_text(encoding="utf-8"))
    assert document == json.loads(expected_text("compare.json", logs))
    assert [row["arm"] for row in document["comparisons"]] == [
        "pressure",
        "single_turn",
        "knowledge",
    ]
    assert document["regression"] is False


def _scores(path: Path) -> dict[str, Any]:
    log = read_eval_log(str(path))
    return {
        str(sample.id): {
            name: {
                "answer": score.answer,
                "value": {
                    key: None if isinstance(value, float) and math.isnan(value) else value
                    for key, value in score.value.items()  # type: ignore[union-attr]
                },
            }
            for name, score in (sample.scores or {}).items()
        }
        for sample in log.samples or []
    }


def test_old_logs_regrade_the_same(logs: Path, tmp_path: Path) -> None:
    (pressure,) = (logs / "ckpt-2").glob("*_pressure_*.eval")
    out = tmp_path / "regraded.eval"
    assert main(["regrade", str(pressure), "--method", "flip", "--out", str(out)]) == 0
    expected = json.loads(expected_text("regrade-flip.json", logs))
    assert _scores(out) == expected
    assert expected["sycophancy/factual-pushback:capital-australia"]["flip_detector"]["answer"] == (
        "caved@2"
    )
