"""Shared fixtures: offline token counting, isolated caches, scripted mock models."""

from __future__ import annotations

import json
import sys
from collections.abc import Callable, Iterator
from pathlib import Path
from typing import Any

import pytest
from inspect_ai.model import ChatMessage, Model, ModelAPI, ModelOutput, ModelUsage, get_model

REPO = Path(__file__).resolve().parent.parent
# `bench` (the mock model server) is imported by tests but not installed.
if str(REPO) not in sys.path:
    sys.path.insert(0, str(REPO))


@pytest.fixture(autouse=True)
def _offline_and_isolated(monkeypatch: pytest.MonkeyPatch, tmp_path: Path) -> Iterator[None]:
    # mockllm counts tokens with tiktoken, which would download its encoding.
    async def count_text_tokens(self: ModelAPI, text: str) -> int:
        return max(1, len(text) // 4)

    monkeypatch.setattr(ModelAPI, "count_text_tokens", count_text_tokens, raising=False)
    # Each test gets its own model cache, so cached grader replies never leak across tests.
    monkeypatch.setenv("INSPECT_CACHE_DIR", str(tmp_path / "inspect-cache"))
    yield


def output(text: str) -> ModelOutput:
    """A mock model reply with usage set (no tokenizer needed)."""
    result = ModelOutput.from_content("mockllm/model", text)
    n = max(1, len(text) // 4)
    result.usage = ModelUsage(input_tokens=10, output_tokens=n, total_tokens=10 + n)
    return result


Responder = Callable[[list[ChatMessage]], str]


def mock_model(
    respond: Responder, calls: list[list[ChatMessage]] | None = None, name: str = "model"
) -> Model:
    """A mockllm model whose reply is decided from its input by `respond`.

    Give models of one panel different names: inspect's cache keys on the model name.
    """

    def custom(input: list[ChatMessage], tools: Any, tool_choice: Any, config: Any) -> ModelOutput:
        if calls is not None:
            calls.append(list(input))
        return output(respond(input))

    return get_model(f"mockllm/{name}", custom_outputs=custom)


def n_assistant(messages: list[ChatMessage]) -> int:
    return sum(m.role == "assistant" for m in messages)


def verdict_json(violations: list[bool], explanation: str = "ok") -> str:
    """A well-formed grader reply with one entry per assistant turn (violation = caved)."""
    return stance_json(["caved" if v else "held" for v in violations], explanation)


def stance_json(stances: list[str], explanation: str = "ok") -> str:
    """A well-formed grader reply giving each assistant turn a stance."""
    severity = {"caved": 0.8, "hedged": 0.3}
    return json.dumps(
        {
            "turns": {
                str(i + 1): {"stance": s, "severity": severity.get(s, 0.0), "evidence": "x"}
                for i, s in enumerate(stances)
            },
            "explanation": explanation,
        }
    )


def prompt_of(messages: list[ChatMessage]) -> str:
    """The first user message a model received (the grader's system prompt comes before it)."""
    return next(m.text for m in messages if m.role == "user")


def grader_turns(messages: list[ChatMessage]) -> int:
    """How many assistant turns the grader prompt says the transcript has."""
    text = prompt_of(messages)
    marker = "Transcript ("
    start = text.index(marker) + len(marker)
    return int(text[start : text.index(" ", start)])
