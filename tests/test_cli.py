"""The `harness` command line: validate, schema, report, run (argument checks)."""

from __future__ import annotations

import json
import shutil
from pathlib import Path

import pytest
from inspect_ai import eval

from harness._cli import main
from harness.task import pressure
from tests.conftest import REPO, grader_turns, mock_model, n_assistant, prompt_of, verdict_json


def test_validate_bundled(capsys: pytest.CaptureFixture[str]) -> None:
    assert main(["validate"]) == 0
    assert "valid: " in capsys.readouterr().out


def test_validate_reports_every_problem_without_traceback(
    tmp_path: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    folder = tmp_path / "sycophancy"
    shutil.copytree(REPO / "scenarios/sycophancy/items", folder / "items")
    source = (REPO / "scenarios/sycophancy/flattery.yaml").read_text()
    (folder / "a.yaml").write_text(source.replace("version: 1", "version: one"))
    (folder / "b.yaml").write_text("id: [broken\n")
    (folder / "c.yaml").write_text(
        source.replace("sycophancy/flattery", "sycophancy/c").replace(
            "{{ wrong_answer }}", "{{ wrong_answr }}", 1
        )
    )
    assert main(["validate", str(folder)]) == 2
    err = capsys.readouterr().err
    lines = [line for line in err.splitlines() if line.strip()]
    assert any(
        line.endswith(
            "a.yaml:2: version: Input should be a valid integer, unable to parse "
            "string as an integer"
        )
        for line in lines
    )
    assert any("b.yaml:" in line and "not valid YAML" in line for line in lines)
    assert any("c.yaml:" in line and "'wrong_answr' is undefined" in line for line in lines)
    assert "Traceback" not in err
    assert lines[-1] == "3 problem(s) found"


def test_validate_graders_folder(tmp_path: Path, capsys: pytest.CaptureFixture[str]) -> None:
    graders = tmp_path / "graders"
    shutil.copytree(REPO / "graders", graders)
    (graders / "sycophancy.yaml").write_text("trait: sycophancy\nversion: 1\n")
    assert main(["validate", str(graders)]) == 2
    assert "sycophancy.yaml:1: description: required field is missing" in capsys.readouterr().err


def test_schema_is_json_schema_of_scenarios(capsys: pytest.CaptureFixture[str]) -> None:
    assert main(["schema"]) == 0
    schema = json.loads(capsys.readouterr().out)
    assert schema["additionalProperties"] is False
    assert {"id", "version", "trait", "opening", "pressure"} <= set(schema["required"])
    tactic = schema["$defs"]["LadderTurn"]["properties"]["tactic"]
    assert "authority" in json.dumps(tactic)
    assert schema["properties"]["opening"]["description"].startswith("The first user message")


def test_committed_schema_file_is_current(capsys: pytest.CaptureFixture[str]) -> None:
    main(["schema"])
    committed = (REPO / "scenarios" / "scenario.schema.json").read_text()
    assert json.loads(committed) == json.loads(capsys.readouterr().out), (
        "run: harness schema > scenarios/scenario.schema.json"
    )


def test_committed_reference_docs_are_current(capsys: pytest.CaptureFixture[str]) -> None:
    main(["schema", "--markdown"])
    generated = capsys.readouterr().out
    assert "| `max_turns` | integer |" in generated
    assert (REPO / "docs" / "reference.md").read_text() == generated, (
        "run: harness schema --markdown > docs/reference.md"
    )


def test_run_without_grader_is_refused(capsys: pytest.CaptureFixture[str]) -> None:
    assert main(["run", "--model", "mockllm/model"]) == 2
    assert "no grader model" in capsys.readouterr().err


def test_run_persona_without_attacker_is_refused(capsys: pytest.CaptureFixture[str]) -> None:
    code = main(
        ["run", "--model", "mockllm/model", "--grader", "mockllm/model", "--driver", "persona"]
    )
    assert code == 2
    assert "--attacker" in capsys.readouterr().err


def test_report_summarises_a_log(tmp_path: Path, capsys: pytest.CaptureFixture[str]) -> None:
    def grade(inp: list) -> str:  # type: ignore[type-arg]
        return verdict_json([True] * grader_turns(inp)) if "Australia" in prompt_of(inp) else "junk"

    eval(
        pressure(
            scenarios=str(REPO / "scenarios/sycophancy/factual-pushback.yaml"),
            driver="scripted",
            max_turns=2,
            items_per_scenario=4,
        ),
        model=mock_model(lambda inp: f"reply {n_assistant(inp)}"),
        model_roles={"grader": mock_model(grade)},
        log_dir=str(tmp_path / "logs"),
        display="none",
    )
    out_json = tmp_path / "summary.json"
    assert main(["report", str(tmp_path / "logs"), "--json", str(out_json)]) == 0
    out = capsys.readouterr().out
    assert "sycophancy" in out and "violation rate" in out
    assert "not reliable" in out  # 3 of 4 unscored
    report = json.loads(out_json.read_text())
    # The three-arm report, with only the pressure arm present; its detail is the summary.
    assert report["missing_arms"] == ["single_turn", "knowledge"]
    assert report["traits"]["sycophancy"]["multi_turn"]["unscored"] == 3
    summary = report["pressure_detail"]
    trait = summary["by_trait"]["sycophancy"]
    assert trait["conversations"] == 4
    assert trait["unscored"] == 3
    assert trait["unscored_reasons"] == {"grader_unparseable": 3}
    assert trait["violation_rate"] == 1.0
    assert trait["mean_turn_of_flip"] == 1.0
    assert summary["unreliable"] is True
    # `report LOGDIR` writes report.json and report.md beside the logs.
    assert json.loads((tmp_path / "logs" / "report.json").read_text()) == report
    assert "| sycophancy |" in (tmp_path / "logs" / "report.md").read_text()


def test_report_without_logs_is_bad_input(
    tmp_path: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    assert main(["report", str(tmp_path)]) == 2
    assert "no logs" in capsys.readouterr().err
