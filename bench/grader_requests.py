"""`grader_token_ratio` from what the grader was actually sent in a benchmark run.

Reads the mock server's request records of a run with the rubric grader on (every
request to the `grader` model, re-asks included) and the run's log (the
conversations). Tokens are counted as `bench/grader_tokens.py` counts them: with the
embedded model's vocabulary through a private llama.cpp server, offline.

- transcript tokens: the text of every user and assistant message of each conversation;
- grader tokens: the text of every message of every request the grader received;
- per-conversation grader tokens: the same less the rubric prefix each request starts
  with (identical for every conversation of a trait, so prefix caching serves it).
"""

from __future__ import annotations

import json
from pathlib import Path
from typing import Any

from bench.grader_tokens import Tokenizer, log_conversations
from bench.mock_server import content_text
from harness._util import graders_dir
from harness.scenario import render_grader_prefix
from harness.scorer import RubricSet


def grader_request_texts(requests_file: Path) -> list[str]:
    """The text of each request the `grader` model received (messages joined)."""
    texts = []
    for line in requests_file.read_text(encoding="utf-8").splitlines():
        record = json.loads(line)
        if record["model"] == "grader" and record.get("messages") is not None:
            parts = (content_text(m.get("content"), "\n") for m in record["messages"])
            texts.append("\n\n".join(parts))
    return texts


def measure_grader_tokens(requests_file: Path, log_dir: Path, trait: str) -> dict[str, Any]:
    """Grader input tokens over transcript tokens for one run (aggregate ratios)."""
    conversations = log_conversations(log_dir)
    requests = grader_request_texts(requests_file)
    prefix = render_grader_prefix(RubricSet(graders_dir()).get(trait), graders_dir())
    with Tokenizer() as tokenizer:
        transcript = sum(tokenizer.count(t.text) for c in conversations for t in c.turns)
        grader = sum(tokenizer.count(text) for text in requests)
        prefix_tokens = tokenizer.count(prefix)
        tokenizer_name = tokenizer.describe()["name"]
    starts_with_prefix = sum(text.startswith(prefix) for text in requests)
    per_conversation = grader - prefix_tokens * starts_with_prefix
    return {
        "grader_token_ratio": grader / transcript if transcript else None,
        "grader_token_ratio_per_conversation": (
            per_conversation / transcript if transcript else None
        ),
        "conversations": len(conversations),
        "grader_requests": len(requests),
        "transcript_tokens": transcript,
        "grader_tokens": grader,
        "rubric_prefix_tokens": prefix_tokens,
        "requests_starting_with_prefix": starts_with_prefix,
        "tokenizer": tokenizer_name,
    }
