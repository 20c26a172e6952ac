"""Autorate: the grader rates frequent patterns as superficial or content, failing closed."""

from __future__ import annotations

import asyncio
import json
import re
from collections.abc import Callable
from pathlib import Path
from typing import Any

import pytest
from inspect_ai.model import ChatMessage, GenerateConfig, Model, ModelOutput, get_model

from harness._cli import main
from harness._cli._artifacts import autorate_line
from harness._util import TemplateProblem, graders_dir, render_file, sha256
from harness.artifacts import (
    ArtifactsReport,
    AutorateSettings,
    analyse_artifacts,
    autorate_report,
    rate_patterns,
)
from harness.artifacts._autorate import (
    RATER_SCHEMA,
    PatternAutorate,
    patterns_to_rate,
    rater_variables,
)
from tests.conftest import output

PATTERN_LINE = re.compile(r"^Pattern: (.+)$", re.MULTILINE)


def write_dataset(path: Path, n: int = 20) -> Path:
    """Chats whose replies open with praise (12 of 20) and close with an offer (8 of 20)."""
    lines = []
    for i in range(n):
        reply = f"The capital of country {i} is city {i}."
        if i < 12:
            reply = "Great question! " + reply
        if i >= 12:
            reply += " Would you like me to list its museums?"
        lines.append(
            {
                "messages": [
                    {"role": "user", "content": "Capital?"},
                    {"role": "assistant", "content": reply},
                ]
            }
        )
    path.write_text("".join(json.dumps(line) + "\n" for line in lines))
    return path


@pytest.fixture
def report(tmp_path: Path) -> ArtifactsReport:
    return analyse_artifacts([write_dataset(tmp_path / "chats.jsonl")]).report


Call = tuple[list[ChatMessage], GenerateConfig]
Reply = Callable[[str, list[ChatMessage]], ModelOutput | str]


def grader(reply: Reply, calls: list[Call] | None = None) -> Model:
    """A mock grader deciding from the pattern named in its prompt (and the exchange so far)."""

    def custom(input: list[ChatMessage], tools: Any, tool_choice: Any, config: Any) -> ModelOutput:
        if calls is not None:
            calls.append((list(input), config))
        match = PATTERN_LINE.search(input[0].text)
        assert match is not None
        result = reply(match.group(1), input)
        return output(result) if isinstance(result, str) else result

    return get_model("mockllm/rater", custom_outputs=custom)


def verdict(
    superficial: bool, label: str = "stock phrase", reason: str = "Same words whatever was asked."
) -> str:
    return json.dumps({"superficial": superficial, "label": label, "reason": reason})


def superficial_unless_content(name: str, _: list[ChatMessage]) -> str:
    is_habit = name.startswith(("opening:", "closing:")) or name in ("flattery_opener",)
    return verdict(is_habit, label=f"label of {name}")


def rate(
    report: ArtifactsReport, model: Model, settings: AutorateSettings | None = None
) -> tuple[dict[str, PatternAutorate], Any]:
    return asyncio.run(rate_patterns(report, model, settings))


def test_good_verdicts_rate_each_frequent_pattern_once(report: ArtifactsReport) -> None:
    calls: list[Call] = []
    ratings, summary = rate(report, grader(superficial_unless_content, calls))
    counts = {p.name: p.count for p in report.patterns}
    assert counts["flattery_opener"] == 12 and counts["closing_offer"] == 8
    assert "flattery_opener" in ratings and "closing_offer" in ratings
    discovered = [name for name in ratings if name.startswith(("opening:", "closing:"))]
    assert discovered  # the discovered clusters are rated too
    # Length buckets and patterns below min_count are not asked about.
    assert not any(name.startswith("length:") for name in ratings)
    assert all(counts[name] >= 3 for name in ratings)
    assert len(calls) == len(ratings) == summary.rated
    for name, rating in ratings.items():
        expected = name.startswith(("opening:", "closing:")) or name == "flattery_opener"
        assert rating.superficial is expected
        assert rating.label == f"label of {name}"
        assert rating.reason == "Same words whatever was asked."
        assert rating.unrated_reason is None and rating.attempts == 1
    assert summary.superficial == sum(r.superficial is True for r in ratings.values())
    assert summary.content == sum(r.superficial is False for r in ratings.values())
    assert summary.unrated == 0 and summary.unrated_reasons == {}
    assert summary.not_asked == len(report.patterns) - len(ratings)
    assert summary.grader == "mockllm/rater"
    # One user message per call; its sha256 is recorded; the output is schema-constrained.
    prompts = {PATTERN_LINE.search(m[0].text).group(1): m[0].text for m, _ in calls}  # type: ignore[union-attr]
    for name, rating in ratings.items():
        assert rating.prompt_sha256 == sha256(prompts[name])
    _, config = calls[0]
    assert config.response_schema is not None
    assert config.response_schema.json_schema == RATER_SCHEMA
    assert config.temperature == 0.0 and config.max_tokens == 512


def test_the_prompt_shows_description_phrases_and_examples(report: ArtifactsReport) -> None:
    calls: list[Call] = []
    rate(report, grader(superficial_unless_content, calls))
    prompts = {PATTERN_LINE.search(m[0].text).group(1): m[0].text for m, _ in calls}  # type: ignore[union-attr]
    flattery = prompts["flattery_opener"]
    assert "Prevalence: 12 of 20 replies (60.0%)" in flattery
    assert flattery.count("<excerpt>") == 3 and "Great question!" in flattery
    opening = next(text for name, text in prompts.items() if name.startswith("opening:"))
    assert '- "great question the capital of" (12)' in opening
    assert "counting the most frequent openings" in opening
    # Every word of it comes from the template: nothing but the variables is added.
    row = next(p for p in report.patterns if p.name == "flattery_opener")
    template = graders_dir() / "templates" / "artifact_rater.j2"
    rendered = render_file(template, rater_variables(row, 20, AutorateSettings()))
    assert rendered == flattery


def test_a_malformed_reply_is_re_asked_then_rated(report: ArtifactsReport) -> None:
    calls: list[Call] = []

    def reply(name: str, exchange: list[ChatMessage]) -> str:
        if len(exchange) == 1:
            return "It is superficial, clearly."  # no JSON
        assert exchange[1].role == "assistant" and exchange[1].text == "It is superficial, clearly."
        assert exchange[2].text.startswith("Your previous reply could not be used (")
        return verdict(True)

    ratings, summary = rate(report, grader(reply, calls))
    assert ratings and all(r.superficial is True and r.attempts == 2 for r in ratings.values())
    assert summary.unrated == 0 and len(calls) == 2 * summary.rated


def _raise(name: str, exchange: list[ChatMessage]) -> str:
    raise RuntimeError("provider down")


@pytest.mark.parametrize(
    ("reply", "reason", "detail"),
    [
        (lambda n, e: "I can't help with rating content like this.", "grader_refusal", "declined"),
        (
            lambda n, e: ModelOutput.from_content("mockllm", "", stop_reason="content_filter"),
            "grader_refusal",
            "content_filter",
        ),
        (lambda n, e: "Superficial, definitely.", "grader_unparseable", "no JSON"),
        (lambda n, e: "", "grader_unparseable", "empty reply"),
        (
            lambda n, e: json.dumps({"superficial": "yes", "label": "x", "reason": "y"}),
            "grader_invalid",
            "superficial",
        ),
        (lambda n, e: json.dumps({"superficial": False}), "grader_invalid", "label"),
        # The 135M embedded model copies the format line's placeholders: that is no verdict.
        (
            lambda n, e: verdict(True, "a short name for the pattern", "one sentence"),
            "grader_invalid",
            "repeats the question",
        ),
        (
            lambda n, e: (
                f"```json\n{verdict(False)}\n```\nor rather\n```json\n{verdict(True)}\n```"
            ),
            "grader_invalid",
            "several",
        ),
        (_raise, "grader_error", "provider down"),
    ],
)
def test_failures_are_unrated_never_content(
    report: ArtifactsReport, reply: Reply, reason: str, detail: str
) -> None:
    calls: list[Call] = []
    ratings, summary = rate(report, grader(reply, calls), AutorateSettings(max_attempts=2))
    assert ratings
    for rating in ratings.values():
        assert rating.superficial is None and rating.label is None and rating.reason is None
        assert rating.unrated_reason == reason
        assert detail in (rating.unrated_detail or "")
        assert rating.attempts == 2
    assert summary.content == 0 and summary.superficial == 0
    assert summary.unrated == summary.rated == len(ratings)
    assert summary.unrated_reasons == {reason: len(ratings)}
    assert len(calls) == 2 * len(ratings) or reason == "grader_error"
    assert f"{summary.unrated} unrated ({reason}: {summary.unrated})" in autorate_line(summary)


def test_mixed_outcomes_are_counted_separately(report: ArtifactsReport) -> None:
    def reply(name: str, exchange: list[ChatMessage]) -> str:
        if name == "closing_offer":
            return "I won't judge this."
        return superficial_unless_content(name, exchange)

    ratings, summary = rate(report, grader(reply))
    assert ratings["closing_offer"].unrated_reason == "grader_refusal"
    assert ratings["flattery_opener"].superficial is True
    assert (summary.unrated, summary.unrated_reasons) == (1, {"grader_refusal": 1})
    assert summary.superficial + summary.content + summary.unrated == summary.rated


def test_selection_thresholds_and_cap(report: ArtifactsReport) -> None:
    n = report.n_messages
    default = patterns_to_rate(report.patterns, n, AutorateSettings())
    assert [r.count for r in default] == sorted((r.count for r in default), reverse=True)
    strict = patterns_to_rate(report.patterns, n, AutorateSettings(min_prevalence=0.5))
    assert {r.name for r in strict} <= {r.name for r in default}
    assert all(r.count >= 10 for r in strict) and "flattery_opener" in {r.name for r in strict}
    assert "closing_offer" not in {r.name for r in strict}
    assert len(patterns_to_rate(report.patterns, n, AutorateSettings(max_patterns=1))) == 1
    assert patterns_to_rate(report.patterns, n, AutorateSettings(max_patterns=0)) == []
    with pytest.raises(ValueError, match="extra_forbidden"):
        AutorateSettings(max_patern=3)  # type: ignore[call-arg]


def test_ratings_go_into_the_report_json(report: ArtifactsReport) -> None:
    def reply(name: str, exchange: list[ChatMessage]) -> str:
        return "I can't rate this." if name == "closing_offer" else verdict(True, "habit")

    rated = autorate_report(report, grader(reply))
    document = json.loads(rated.model_dump_json())
    rows = {row["name"]: row for row in document["patterns"]}
    assert rows["flattery_opener"]["autorate"] == {
        "superficial": True,
        "label": "habit",
        "reason": "Same words whatever was asked.",
        "unrated_reason": None,
        "unrated_detail": None,
        "prompt_sha256": rows["flattery_opener"]["autorate"]["prompt_sha256"],
        "attempts": 1,
    }
    assert re.fullmatch(r"[0-9a-f]{64}", rows["flattery_opener"]["autorate"]["prompt_sha256"])
    assert rows["closing_offer"]["autorate"]["superficial"] is None
    assert rows["closing_offer"]["autorate"]["unrated_reason"] == "grader_refusal"
    assert rows["length:short"]["autorate"] is None  # not asked
    assert document["autorate"]["unrated"] == 1
    assert document["autorate"]["rated"] == sum(r["autorate"] is not None for r in rows.values())
    # Without the step the report has no ratings.
    plain = json.loads(report.model_dump_json())
    assert plain["autorate"] is None
    assert all(row["autorate"] is None for row in plain["patterns"])


def test_a_missing_template_is_an_error(report: ArtifactsReport, tmp_path: Path) -> None:
    (tmp_path / "templates").mkdir()
    with pytest.raises(TemplateProblem, match=r"artifact_rater\.j2' not found"):
        asyncio.run(rate_patterns(report, grader(superficial_unless_content), None, tmp_path))


# ------------------------------------------------------------------------ CLI


def test_cli_autorate_fails_closed_with_an_unusable_grader(
    tmp_path: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    data = write_dataset(tmp_path / "chats.jsonl")
    out = tmp_path / "report.json"
    # mockllm's default reply is no JSON: every rating fails, and none reads as content.
    code = main(
        ["artifacts", str(data), "--autorate", "--grader", "mockllm/model", "--json", str(out)]
    )
    assert code == 0
    printed = capsys.readouterr().out
    assert "Autorate by mockllm/model" in printed
    document = json.loads(out.read_text())
    summary = document["autorate"]
    assert summary["rated"] > 0 and summary["unrated"] == summary["rated"]
    assert summary["unrated_reasons"] == {"grader_unparseable": summary["rated"]}
    assert f"{summary['rated']} unrated (grader_unparseable" in " ".join(printed.split())
    ratings = [row["autorate"] for row in document["patterns"] if row["autorate"]]
    assert len(ratings) == summary["rated"]
    assert all(r["superficial"] is None for r in ratings)


@pytest.mark.parametrize(
    ("args", "message"),
    [
        (["--autorate"], "--autorate needs --grader MODEL"),
        (["--grader", "mockllm/model"], "--grader is only used with --autorate"),
        (["--autorate", "--grader", "a/b,c/d"], "--autorate takes one grader model"),
    ],
)
def test_cli_autorate_needs_exactly_one_explicit_grader(
    tmp_path: Path, capsys: pytest.CaptureFixture[str], args: list[str], message: str
) -> None:
    data = write_dataset(tmp_path / "chats.jsonl")
    assert main(["artifacts", str(data), *args]) == 2
    assert message in capsys.readouterr().err
