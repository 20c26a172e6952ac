"""Markdown reference docs for the file formats, generated from the pydantic models."""

from __future__ import annotations

import json
from typing import Any

from pydantic import BaseModel

from harness.scenario._schema import KnowledgeVerdict, Rubric, Scenario, TacticSpec, Verdict


def _type_name(schema: dict[str, Any]) -> str:
    if "$ref" in schema:
        return str(schema["$ref"]).rsplit("/", 1)[-1]
    if "enum" in schema:
        return " \\| ".join(f"`{v}`" for v in schema["enum"])
    for union in ("anyOf", "oneOf"):
        if union in schema:
            return " or ".join(_type_name(option) for option in schema[union])
    if schema.get("type") == "array":
        return f"list of {_type_name(schema.get('items', {}))}"
    return str(schema.get("type", "any"))


def _model_section(name: str, schema: dict[str, Any]) -> list[str]:
    lines = [f"### {name}", "", schema.get("description", ""), ""]
    lines += ["| field | type | required | default | description |", "|---|---|---|---|---|"]
    required = set(schema.get("required", []))
    for field_name, field in schema.get("properties", {}).items():
        default = f"`{json.dumps(field['default'])}`" if "default" in field else ""
        description = str(field.get("description", "")).replace("|", "\\|").replace("\n", " ")
        lines.append(
            f"| `{field_name}` | {_type_name(field)} | {'yes' if field_name in required else ''} "
            f"| {default} | {description} |"
        )
    return [*lines, ""]


def reference_markdown() -> str:
    """The reference for scenario and rubric files, one table per model."""
    out = [
        "# File format reference",
        "",
        "Generated from `harness/_schema.py` by `harness schema --markdown`; do not edit by hand.",
        "",
    ]
    documents: list[tuple[str, type[BaseModel]]] = [
        ("Scenario files (`scenarios/<trait>/*.yaml`)", Scenario),
        ("Tactic files (`scenarios/tactics/<name>.yaml`)", TacticSpec),
        ("Rubric files (`graders/<trait>.yaml`)", Rubric),
        ("Behaviour grader reply (JSON)", Verdict),
        ("Knowledge grader reply (JSON)", KnowledgeVerdict),
    ]
    for title, model in documents:
        schema = model.model_json_schema()
        out += [f"## {title}", ""]
        out += _model_section(model.__name__, schema)
        for def_name, definition in schema.get("$defs", {}).items():
            if definition.get("type") == "object":
                out += _model_section(def_name, definition)
    return "\n".join(out).rstrip() + "\n"
