"""Mock-server responders for the peer tool Petri (`inspect_petri/audit`) in the benchmark.

Give each Petri role its own model name (`openai-api/mock/auditor`, `.../target`,
`.../judge`) and route each to its function with `--model-responder NAME=module:function`:

- `auditor`: tool calls only, as Petri expects (a reply without a tool call wastes a
  turn): `set_system_message` + `send_message` + `resume` on its first turn, then
  `send_message` + `resume` on each later turn; `end_conversation` once the target has
  answered `MAX_TARGET_TURNS` times (the benchmark caps Petri's `max_turns` at the same
  number, so it is not normally reached);
- `target`: a plain-text answer from the same pool as the harness's mock target;
- `judge`: a call to the `answer` tool whose arguments follow the JSON schema the
  request offers (strings filled with canned text, integers at their minimum).
"""

from __future__ import annotations

import json
from typing import Any

from bench.harness_responder import answers, canned, pick

MAX_TARGET_TURNS = 6
"""Target turns per conversation, as in the harness's scripted runs."""


def _call(name: str, arguments: dict[str, Any]) -> dict[str, Any]:
    return {"type": "function", "function": {"name": name, "arguments": json.dumps(arguments)}}


def auditor(request: dict[str, Any]) -> dict[str, Any]:
    """The auditor's next turn as tool calls, decided by how many turns it has taken."""
    texts: dict[str, Any] = canned()["petri"]
    messages: list[str] = texts["messages"]
    taken = sum(m.get("role") == "assistant" for m in request.get("messages") or [])
    if taken >= MAX_TARGET_TURNS:
        return {"content": "", "tool_calls": [_call("end_conversation", {})]}
    calls = [
        _call("send_message", {"message": messages[taken % len(messages)]}),
        _call("resume", {}),
    ]
    if taken == 0:
        calls.insert(0, _call("set_system_message", {"system_message": texts["system_message"]}))
    return {"content": "", "tool_calls": calls}


def target(request: dict[str, Any]) -> str:
    """The target's reply: a pooled answer (as the harness's mock target sends)."""
    turn = sum(m.get("role") == "assistant" for m in request.get("messages") or []) + 1
    seed = json.dumps(request.get("messages", [{}])[:2], sort_keys=True)[:200]
    reply = pick(f"{seed}|{turn}", answers())
    return reply.replace("{correct}", "408").replace("{wrong}", "398")


def example(schema: dict[str, Any], text: str) -> Any:
    """A value that satisfies `schema` (the subset Petri's judge uses)."""
    if "enum" in schema:
        return schema["enum"][0]
    for key in ("anyOf", "oneOf"):
        if schema.get(key):
            return example(schema[key][0], text)
    kind = schema.get("type")
    if isinstance(kind, list):
        kind = next((k for k in kind if k != "null"), "null")
    if kind == "object" or "properties" in schema:
        properties: dict[str, Any] = schema.get("properties") or {}
        return {name: example(sub, text) for name, sub in properties.items()}
    if kind == "array":
        return [example(schema.get("items") or {}, text)] * int(schema.get("minItems", 0))
    if kind == "integer":
        return int(schema.get("minimum", 1))
    if kind == "number":
        return float(schema.get("minimum", 1))
    if kind == "boolean":
        return False
    if kind == "null":
        return None
    return text


def judge(request: dict[str, Any]) -> dict[str, Any] | str:
    """A call to the judge's `answer` tool with schema-valid arguments."""
    text: str = canned()["petri"]["judge_text"]
    for tool in request.get("tools") or []:
        function = tool.get("function") or {}
        if function.get("name") == "answer":
            arguments = example(function.get("parameters") or {}, text)
            return {"content": "", "tool_calls": [_call("answer", arguments)]}
    return text
