"""The detectors as an Inspect Scout scanner: direct calls, `scan()` over a log, `scout scan`."""

from __future__ import annotations

import asyncio
import json
import subprocess
import sys
from pathlib import Path
from typing import Any

import pytest
from inspect_ai import Task, eval
from inspect_ai.dataset import Sample
from inspect_ai.model import ChatMessage, ChatMessageAssistant, ChatMessageUser
from inspect_scout import Result, Transcript, as_scorer, scan, scan_results_df, transcripts_from

from harness._util import ValidationFailed
from harness.artifacts import analyse_artifacts
from harness.artifacts._scanners import artifacts, select_detectors
from harness.task import pressure
from tests.conftest import REPO, grader_turns, mock_model, n_assistant, verdict_json

SCOUT = Path(sys.executable).parent / "scout"


def transcript(messages: list[ChatMessage]) -> Transcript:
    return Transcript(transcript_id="t1", messages=messages)


def by_label(results: list[Result]) -> dict[str, Result]:
    return {str(r.label): r for r in results}


def run_scanner(scanner: Any, messages: list[ChatMessage]) -> dict[str, Result]:
    results = asyncio.run(scanner(transcript(messages)))
    assert isinstance(results, list)
    return by_label(results)


def test_one_result_per_pattern_with_counts_shares_and_references() -> None:
    messages: list[ChatMessage] = [
        ChatMessageAssistant(
            id="a1", content="Great question! It is 4. Would you like me to explain?"
        ),
        ChatMessageAssistant(id="a2", content=""),  # tool-call-only turns are not counted
        ChatMessageAssistant(id="a3", content="It is 4."),
        ChatMessageAssistant(id="a4", content="What a great question! Sorry, it is 4."),
    ]
    results = run_scanner(artifacts(), messages)
    bundled = {name for d in select_detectors() for name in d.pattern_names()}
    assert set(results) == bundled  # every pattern, matched or not
    flattery = results["flattery_opener"]
    assert flattery.value == 2
    assert flattery.metadata == {
        "pattern": "flattery_opener",
        "kind": "opening",
        "share": pytest.approx(2 / 3),
        "n_messages": 3,
    }
    # Cites number the messages the scanner was given; the references carry their ids.
    assert [(r.cite, r.id) for r in flattery.references] == [("[M1]", "a1"), ("[M4]", "a4")]
    assert flattery.explanation is not None
    assert flattery.explanation.startswith('2 of 3 assistant messages (67%): [M1] "Great question!')
    assert results["closing_offer"].value == 1
    assert results["apology"].value == 1
    assert [r.id for r in results["apology"].references] == ["a4"]
    assert results["hedging"].value == 0 and results["hedging"].references == []
    assert results["hedging"].explanation == "0 of 3 assistant messages"
    assert results["length:short"].value == 3  # each message is in one length bucket


def test_a_transcript_without_assistant_text_has_zero_counts_and_no_share() -> None:
    results = run_scanner(
        artifacts(detectors="apology"), [ChatMessageUser(content="Sorry, hello?")]
    )
    assert results["apology"].value == 0
    assert results["apology"].metadata is not None
    assert results["apology"].metadata["share"] is None


def test_detector_selection_by_name_list_or_comma_string() -> None:
    assert [d.name for d in select_detectors("apology, emoji")] == ["apology", "emoji"]
    assert [d.name for d in select_detectors(["emoji", "apology", "emoji"])] == [
        "emoji",
        "apology",
    ]
    results = run_scanner(artifacts(detectors=["length"]), [ChatMessageAssistant(content="Sorry.")])
    assert set(results) == {"length:short", "length:medium", "length:long", "length:very_long"}
    with pytest.raises(ValueError, match=r"unknown detector\(s\) nope; available: .*apology"):
        select_detectors("apology,nope")


def test_a_detector_folder_of_ones_own(tmp_path: Path) -> None:
    (tmp_path / "tldr.yaml").write_text(
        "name: tldr\n"
        "description: Opens with a TL;DR line.\n"
        "kind: opening\n"
        "scope: first_sentence\n"
        "any_of: ['^tl;?dr\\b']\n"
        "examples: {match: ['TL;DR: yes.'], no_match: ['Yes, TL;DR.']}\n"
    )
    results = run_scanner(
        artifacts(folder=str(tmp_path)),
        [ChatMessageAssistant(content="TL;DR: it is 4."), ChatMessageAssistant(content="It is 4.")],
    )
    assert set(results) == {"tldr"} and results["tldr"].value == 1
    (tmp_path / "broken.yaml").write_text("name: broken\n")
    with pytest.raises(ValidationFailed, match=r"broken\.yaml"):
        artifacts(folder=str(tmp_path))


# ------------------------------------------------------------- over a real eval log


def _target(inp: list[ChatMessage]) -> str:
    turn = n_assistant(inp) + 1
    if turn == 2:
        return "The answer stays 4."
    return f"Great question! The answer stays 4 (reply {turn}). Would you like me to explain?"


@pytest.fixture(scope="module")
def log_dir(tmp_path_factory: pytest.TempPathFactory) -> Path:
    """A mockllm run of harness/pressure: 2 samples x 3 replies, 2 of each 3 planted."""
    folder = tmp_path_factory.mktemp("scanner-logs")
    with pytest.MonkeyPatch.context() as patch:
        # The autouse offline fixture is function-scoped; a module fixture patches alone.
        from inspect_ai.model import ModelAPI

        async def count_text_tokens(self: ModelAPI, text: str) -> int:
            return max(1, len(text) // 4)

        patch.setattr(ModelAPI, "count_text_tokens", count_text_tokens, raising=False)
        patch.setenv("INSPECT_CACHE_DIR", str(folder / "cache"))
        log = eval(
            pressure(
                scenarios=str(REPO / "scenarios/sycophancy/factual-pushback.yaml"),
                items_per_scenario=2,
                driver="scripted",
                max_turns=3,
            ),
            model=mock_model(_target),
            model_roles={"grader": mock_model(lambda i: verdict_json([False] * grader_turns(i)))},
            log_dir=str(folder / "logs"),
            display="none",
        )[0]
    assert log.status == "success"
    return folder / "logs"


def _rows(location: str) -> list[dict[str, Any]]:
    frame = scan_results_df(location).scanners["artifacts"]
    return list(frame[["transcript_id", "label", "value", "message_references"]].to_dict("records"))


def test_scout_scan_over_a_harness_log_matches_harness_artifacts(
    log_dir: Path, tmp_path: Path
) -> None:
    status = scan(
        [artifacts(detectors="flattery_opener,closing_offer,apology")],
        transcripts_from(str(log_dir)),
        scans=str(tmp_path / "scans"),
        display="none",
        max_processes=1,
    )
    assert status.complete
    rows = _rows(status.location)
    assert len({r["transcript_id"] for r in rows}) == 2
    values: dict[str, list[int]] = {}
    for row in rows:
        values.setdefault(row["label"], []).append(int(row["value"]))
    assert values == {"flattery_opener": [2, 2], "closing_offer": [2, 2], "apology": [0, 0]}
    # Each planted row cites the 1st and 3rd assistant replies of its transcript.
    planted = [r for r in rows if r["label"] == "flattery_opener"]
    assert all(len(json.loads(r["message_references"])) == 2 for r in planted)
    # The same detectors through `harness artifacts` count the same messages.
    report = analyse_artifacts([log_dir]).report
    counts = {p.name: p.count for p in report.patterns}
    assert {k: sum(v) for k, v in values.items()} == {
        k: counts[k] for k in ("flattery_opener", "closing_offer", "apology")
    }


def test_scanner_as_a_scorer_on_a_live_run(tmp_path: Path) -> None:
    task = Task(
        dataset=[Sample(input="What is 2 + 2?"), Sample(input="And 3 + 1?")],
        scorer=as_scorer(artifacts(detectors="flattery_opener,apology")),
    )
    replies = iter(["Great question! It is 4.", "It is 4."])
    log = eval(
        task,
        model=mock_model(lambda inp: next(replies)),
        log_dir=str(tmp_path / "logs"),
        display="none",
        max_samples=1,
    )[0]
    assert log.status == "success" and log.samples is not None
    values = sorted(
        (s.scores or {})["artifacts"].value["flattery_opener"]  # type: ignore[index]
        for s in log.samples
    )
    assert values == [0, 1]
    assert all(s.scores["artifacts"].value["apology"] == 0 for s in log.samples)  # type: ignore[index]


def test_scout_scan_cli_resolves_harness_artifacts(log_dir: Path, tmp_path: Path) -> None:
    result = subprocess.run(
        [
            str(SCOUT), "scan", "harness/artifacts", "-T", str(log_dir),
            "--scans", str(tmp_path / "scans"), "-S", "detectors=closing_offer",
            "--max-processes", "1", "--display", "none",
        ],
        cwd=tmp_path, capture_output=True, text=True, timeout=300, check=False,
    )  # fmt: skip
    assert result.returncode == 0, result.stderr[-2000:]
    (location,) = (tmp_path / "scans").glob("scan_id=*")
    rows = _rows(str(location))
    assert [(r["label"], int(r["value"])) for r in rows] == [("closing_offer", 2)] * 2


def test_the_inspect_entry_point_does_not_import_scout() -> None:
    # Scout's import costs about a second; `inspect eval harness/...` must not pay it.
    code = "import sys, harness._registry; print('inspect_scout' in sys.modules)"
    result = subprocess.run(
        [sys.executable, "-c", code], capture_output=True, text=True, timeout=120, check=True
    )
    assert result.stdout.strip() == "False"
