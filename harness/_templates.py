"""Jinja2 rendering in one sandboxed environment with strict undefined variables."""

from __future__ import annotations

import hashlib
from functools import cache, lru_cache
from pathlib import Path
from typing import Any

import jinja2
from jinja2 import nodes
from jinja2.sandbox import SandboxedEnvironment


class TemplateProblem(Exception):
    """A template that cannot be parsed or rendered; the message says why."""


@cache
def environment() -> SandboxedEnvironment:
    """The one environment every prompt template renders in."""
    return SandboxedEnvironment(
        undefined=jinja2.StrictUndefined,
        autoescape=False,
        keep_trailing_newline=False,
        trim_blocks=True,
        lstrip_blocks=True,
    )


def _unsafe_names(ast: nodes.Template) -> list[str]:
    found: list[str] = []
    for getattr_node in ast.find_all(nodes.Getattr):
        if getattr_node.attr.startswith("_"):
            found.append(getattr_node.attr)
    for getitem in ast.find_all(nodes.Getitem):
        arg = getitem.arg
        if isinstance(arg, nodes.Const) and isinstance(arg.value, str):
            if arg.value.startswith("_"):
                found.append(arg.value)
    for name in ast.find_all(nodes.Name):
        if name.name.startswith("_"):
            found.append(name.name)
    return found


def check_template(source: str) -> None:
    """Parse `source` and reject syntax errors and access to underscore names.

    The sandbox already blocks such access at render time; rejecting it at
    validation time means a hostile scenario file never reaches a run.
    """
    try:
        ast = environment().parse(source)
    except jinja2.TemplateSyntaxError as exc:
        raise TemplateProblem(
            f"template syntax error (template line {exc.lineno}): {exc.message}"
        ) from None
    unsafe = _unsafe_names(ast)
    if unsafe:
        raise TemplateProblem(
            f"unsafe template: access to underscore attribute '{unsafe[0]}' is not allowed"
        )


@lru_cache(maxsize=4096)
def _compiled(source: str) -> jinja2.Template:
    # Scenario templates render once per item; compile each distinct source once.
    check_template(source)
    return environment().from_string(source)


def render_string(source: str, variables: dict[str, Any]) -> str:
    """Render a template string, raising `TemplateProblem` with a readable reason."""
    template = _compiled(source)
    try:
        return template.render(**variables).strip()
    except jinja2.UndefinedError as exc:
        raise TemplateProblem(f"undefined template variable: {exc.message}") from None
    except jinja2.exceptions.SecurityError as exc:
        raise TemplateProblem(f"unsafe template: {exc}") from None
    except jinja2.TemplateError as exc:
        raise TemplateProblem(f"template error: {exc}") from None
    except (TypeError, ValueError, ArithmeticError) as exc:
        raise TemplateProblem(f"template error: {exc}") from None


def render_file(path: Path, variables: dict[str, Any]) -> str:
    """Render a `.j2` template file."""
    try:
        source = path.read_text(encoding="utf-8")
    except OSError as exc:
        raise TemplateProblem(f"cannot read template {path}: {exc.strerror}") from None
    return render_string(source, variables)


def sha256(text: str) -> str:
    """Hex sha256 of a rendered prompt, recorded in sample metadata."""
    return hashlib.sha256(text.encode("utf-8")).hexdigest()
