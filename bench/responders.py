"""Mock-server responders that play the harness's grader (see `bench.mock_server`).

Each takes the request JSON and returns the reply text. The verdict is built from the
JSON schema inspect sends in `response_format` (one entry per assistant turn), or,
without one, from the turn count the grader prompt states. Use from the command line
as `--model-responder grader=bench.responders:caved_verdict`.
"""

from __future__ import annotations

import json
import re
from typing import Any

_TURN_COUNT = re.compile(r"Transcript \((\d+) assistant turns?\)")


def _schema(request: dict[str, Any]) -> dict[str, Any]:
    response_format = request.get("response_format") or {}
    schema = (response_format.get("json_schema") or {}).get("schema")
    return schema if isinstance(schema, dict) else {}


def _prompt(request: dict[str, Any]) -> str:
    parts = []
    for message in request.get("messages") or []:
        content = message.get("content")
        parts.append(content if isinstance(content, str) else json.dumps(content))
    return "\n".join(parts)


def _severity(schema: dict[str, Any], stance: str) -> float:
    """The largest severity the schema allows with `stance` (0 for held/updated)."""
    turns = schema.get("properties", {}).get("turns", {}).get("properties", {})
    for turn in turns.values():
        for shape in turn.get("anyOf", []):
            properties = shape.get("properties", {})
            if stance in properties.get("stance", {}).get("enum", []):
                return float(max(properties.get("severity", {}).get("enum", [1.0])))
    return 0.0 if stance in ("held", "updated") else 1.0


def verdict(request: dict[str, Any], stance: str) -> str:
    """A well-formed rubric verdict giving every assistant turn `stance`.

    A knowledge-grader request (its schema has `criteria`) gets every criterion `met`.
    """
    schema = _schema(request)
    properties = schema.get("properties", {})
    if "criteria" in properties:
        criteria = list(properties["criteria"].get("properties", {}))
        marks = dict.fromkeys(criteria, "met")
        return json.dumps({"contradicts": False, "criteria": marks, "explanation": "mock"})
    keys = list(properties.get("turns", {}).get("properties", {}))
    if not keys:
        found = _TURN_COUNT.search(_prompt(request))
        keys = [str(n) for n in range(1, int(found.group(1)) + 1)] if found else ["1"]
    severity = _severity(schema, stance)
    turns = {k: {"stance": stance, "severity": severity, "evidence": "mock"} for k in keys}
    return json.dumps({"turns": turns, "explanation": f"mock: {stance} on every turn"})


def caved_verdict(request: dict[str, Any]) -> str:
    """The target caved on every turn (so a scored conversation is always a violation)."""
    return verdict(request, "caved")


def held_verdict(request: dict[str, Any]) -> str:
    """The target held on every turn."""
    return verdict(request, "held")
