"""Mock-server responders for the harness's own roles in the benchmark.

Each is a `(request_json) -> str | dict` for `bench.mock_server --model-responder`:

- `target`: an answer from `bench/data/replies.jsonl` (40-250 words; those listed in
  `mock_replies.yaml`), picked deterministically per question and turn, that keeps the
  correct product of the bench scenario's "What is A x B?" question (a multiplication sign);
- `attacker`: the persona's next user turn, from `bench/data/mock_replies.yaml`;
- `grader`: a well-formed verdict ("held" on every turn) for the rubric grader, or an
  answer per reply ("correct") for the flip detector's extraction fallback — the shape
  is read from the request's JSON schema, or else from the prompt.
"""

from __future__ import annotations

import hashlib
import json
import re
from functools import cache
from pathlib import Path
from typing import Any

import yaml

from bench.mock_server import content_text

DATA = Path(__file__).resolve().parent / "data"
_QUESTION = re.compile(r"What is (\d+) \u00d7 (\d+)\?")
_NUMBER = re.compile(r"\b\d+\b")
_TRANSCRIPT = re.compile(r"Transcript \((\d+) assistant turns?\)")
_REPLY_MARK = re.compile(r"REPLY \[(\d+)\]")


@cache
def answers() -> list[str]:
    """The pooled replies the mock target sends (`target_replies` of mock_replies.yaml)."""
    wanted = canned()["target_replies"]
    lines = (DATA / "replies.jsonl").read_text(encoding="utf-8").splitlines()
    texts = {r["id"]: r["text"] for r in map(json.loads, filter(None, lines))}
    return [texts[reply_id] for reply_id in wanted]


@cache
def canned() -> dict[str, Any]:
    """The canned texts of `bench/data/mock_replies.yaml`."""
    data: dict[str, Any] = yaml.safe_load((DATA / "mock_replies.yaml").read_text("utf-8"))
    return data


def _messages(request: dict[str, Any], role: str) -> list[str]:
    messages = request.get("messages") or []
    return [content_text(m.get("content")) for m in messages if m["role"] == role]


def pick(key: str, options: list[str]) -> str:
    """A deterministic choice among `options` for `key` (stable across runs and processes)."""
    digest = hashlib.sha256(key.encode()).digest()
    return options[int.from_bytes(digest[:4], "big") % len(options)]


def target(request: dict[str, Any]) -> str:
    """The target's reply: a pooled answer that keeps the correct product."""
    users = _messages(request, "user")
    question = users[0] if users else ""
    turn = len(_messages(request, "assistant")) + 1
    found = _QUESTION.search(question)
    correct = str(int(found.group(1)) * int(found.group(2))) if found else "408"
    pushed = [n for n in _NUMBER.findall(users[-1] if users else "") if n != correct]
    wrong = pushed[-1] if pushed and turn > 1 else "a different number"
    reply = pick(f"{question}|{turn}", answers())
    return reply.replace("{correct}", correct).replace("{wrong}", wrong)


def attacker(request: dict[str, Any]) -> str:
    """The persona's next user turn (the attacker sees the target's replies as user turns)."""
    lines: list[str] = canned()["attacker"]
    written = len(_messages(request, "assistant")) - 1  # its view opens with the opening
    return lines[max(written, 0) % len(lines)]


def _schema_turns(request: dict[str, Any]) -> tuple[list[str], bool] | None:
    """The turn keys the response schema requires, and whether it is the extraction shape."""
    schema = ((request.get("response_format") or {}).get("json_schema") or {}).get("schema")
    if not isinstance(schema, dict):
        return None
    turns = (schema.get("properties") or {}).get("turns") or {}
    keys = turns.get("required")
    if not keys:
        return None
    first = (turns.get("properties") or {}).get(keys[0]) or {}
    return [str(k) for k in keys], "enum" in first


def grader(request: dict[str, Any]) -> str:
    """A valid verdict (all turns held), or a valid answer extraction (all correct)."""
    shape = _schema_turns(request)
    if shape is None:
        prompt = "\n".join(_messages(request, "user"))
        found = _TRANSCRIPT.search(prompt)
        if found:
            shape = [str(n) for n in range(1, int(found.group(1)) + 1)], False
        else:
            shape = sorted(set(_REPLY_MARK.findall(prompt)), key=int), True
    keys, extraction = shape
    if extraction:
        return json.dumps({"turns": dict.fromkeys(keys, "correct")})
    held = {"stance": "held", "severity": 0.0, "evidence": "keeps the answer"}
    return json.dumps(
        {"turns": dict.fromkeys(keys, held), "explanation": "It kept the answer every turn."}
    )
