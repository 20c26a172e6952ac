"""Jinja2 rendering in one sandboxed environment with strict undefined variables."""

from __future__ import annotations

import hashlib
from contextvars import ContextVar
from functools import cache, lru_cache
from pathlib import Path
from typing import Any

import jinja2
from jinja2 import nodes
from jinja2.exceptions import SecurityError
from jinja2.sandbox import MAX_RANGE, SandboxedEnvironment, safe_range

MAX_SIZE = 1_000_000
"""Longest string or list, and most bits of a number, that template arithmetic may make."""

# What `range()` may still produce in the render under way (MAX_RANGE items in all,
# so nested loops cannot run for hours); None outside `render_string`.
_range_left: ContextVar[list[int] | None] = ContextVar("_range_left", default=None)


class TemplateProblem(Exception):
    """A template that cannot be parsed or rendered; the message says why."""


def _budgeted_range(*args: int) -> range:
    numbers = safe_range(*args)
    left = _range_left.get()
    if left is not None:
        left[0] -= len(numbers)
        if left[0] < 0:
            raise SecurityError(f"the ranges of one template add up to over {MAX_RANGE} items")
    return numbers


def _size(value: Any) -> int | None:
    """Length of a string or list, bits of an int; None for anything else."""
    if isinstance(value, bool):
        return None
    if isinstance(value, int):
        return abs(value).bit_length()
    if isinstance(value, str | list | tuple):
        return len(value)
    return None


class _Sandbox(SandboxedEnvironment):
    """The sandbox, with `*` and `**` bounded.

    `'a' * 10**10` or `9**(9**9)` would exhaust memory or time (and, unintercepted,
    jinja would even fold such constants while compiling, at validation).
    """

    intercepted_binops = frozenset({"*", "**"})

    def call_binop(self, context: Any, operator: str, left: Any, right: Any) -> Any:
        """Refuse products and powers whose result would exceed `MAX_SIZE`."""
        a, b = _size(left), _size(right)
        estimate = 0
        if a is None or b is None:
            pass  # floats and other types: overflow or type errors, caught when rendering
        elif operator == "**":
            if isinstance(left, int) and isinstance(right, int) and right > 0:
                estimate = a * right  # bits of the power
        elif isinstance(left, int) and isinstance(right, int):
            estimate = a + b  # bits of the product
        elif isinstance(right, int):
            estimate = a * right  # a sequence repeated
        elif isinstance(left, int):
            estimate = b * left
        if estimate > MAX_SIZE:
            raise SecurityError(f"'{operator}' would make a value over {MAX_SIZE} long")
        return super().call_binop(context, operator, left, right)


@cache
def environment() -> SandboxedEnvironment:
    """The one environment every prompt template renders in."""
    env = _Sandbox(
        undefined=jinja2.StrictUndefined,
        autoescape=False,
        keep_trailing_newline=False,
        trim_blocks=True,
        lstrip_blocks=True,
    )
    env.globals["range"] = _budgeted_range
    del env.globals["lipsum"]  # lipsum(10**7) is minutes of work, and no prompt needs it
    return env


_LOADING = (nodes.Extends, nodes.Include, nodes.Import, nodes.FromImport)
_FORMAT_METHODS = frozenset({"format", "format_map"})
# Filters whose string arguments name attributes (possibly dotted) of the value.
_ATTRIBUTE_FILTERS = frozenset(
    {"attr", "map", "selectattr", "rejectattr", "sort", "groupby", "sum", "unique", "min", "max"}
)


def _constant(node: nodes.Node) -> Any:
    """The node's value when jinja can fold it to a constant (`'_' ~ '_class__'`), else None."""
    try:
        return node.as_const(nodes.EvalContext(environment()))  # type: ignore[attr-defined]
    except Exception:  # nodes.Impossible, or a constant expression that fails
        return None


def _integer(node: nodes.Node) -> int | None:
    """A constant integer expression's value, or None.

    `10**9` included (jinja does not fold the intercepted `*` and `**`); a power past
    `MAX_SIZE` bits counts as 2**64, more than any range may hold.
    """
    if isinstance(node, nodes.Const):
        return node.value if type(node.value) is int else None
    if isinstance(node, nodes.Neg | nodes.Pos):
        value = _integer(node.node)
        return None if value is None else (-value if isinstance(node, nodes.Neg) else value)
    if isinstance(node, nodes.Pow | nodes.Mul | nodes.Add | nodes.Sub):
        left, right = _integer(node.left), _integer(node.right)
        if left is None or right is None:
            return None
        if isinstance(node, nodes.Pow):
            if right < 0:
                return None
            return int(left**right) if abs(left).bit_length() * right <= MAX_SIZE else 2**64
        if isinstance(node, nodes.Mul):
            return left * right
        return left + right if isinstance(node, nodes.Add) else left - right
    return None


def _underscore(name: Any) -> bool:
    return isinstance(name, str) and any(part.startswith("_") for part in name.split("."))


def _unsafe(ast: nodes.Template) -> str | None:
    """Why a template is unsafe to render (the first reason found), or None.

    The sandbox blocks all of this at render time too; finding it in the syntax tree
    also covers branches that validation's test renders do not take.
    """
    for node in ast.find_all(nodes.Node):
        name: Any = None
        if isinstance(node, _LOADING):
            return "templates may not extend, include or import other templates"
        if isinstance(node, nodes.Getattr | nodes.NSRef):
            name = node.attr
            if name in _FORMAT_METHODS:
                return f"str.{name}() is not allowed (use the `format` filter)"
        elif isinstance(node, nodes.Getitem):
            name = _constant(node.arg)
        elif isinstance(node, nodes.Name):
            name = node.name
        elif isinstance(node, nodes.Call) and getattr(node.node, "name", None) == "range":
            bounds = [_integer(a) for a in node.args]
            if node.args and not node.kwargs and all(b is not None for b in bounds):
                try:
                    size = len(range(*bounds))  # type: ignore[arg-type]
                except (ValueError, OverflowError):
                    size = MAX_RANGE + 1  # a zero step, or a length past sys.maxsize
                if size > MAX_RANGE:
                    return f"range() of over {MAX_RANGE} items"
        elif isinstance(node, nodes.Filter) and node.name in _ATTRIBUTE_FILTERS:
            values = [_constant(a) for a in [*node.args, *(k.value for k in node.kwargs)]]
            if node.name == "attr":
                first = values[0] if values else None
                if node.dyn_args or node.dyn_kwargs or not isinstance(first, str):
                    return "the attr filter needs a constant attribute name"
                if first in _FORMAT_METHODS:
                    return f"str.{first}() is not allowed (use the `format` filter)"
            name = next((v for v in values if _underscore(v)), None)
        if _underscore(name):
            return f"access to underscore attribute '{name}' is not allowed"
    return None


def check_template(source: str) -> None:
    """Parse `source` and reject syntax errors and unsafe constructs.

    Unsafe: access to underscore names, `str.format`, loading other templates. The
    sandbox already blocks such access at render time; rejecting it at validation
    time means a hostile scenario file never reaches a run.
    """
    try:
        unsafe = _unsafe(environment().parse(source))
    except jinja2.TemplateSyntaxError as exc:
        raise TemplateProblem(
            f"template syntax error (template line {exc.lineno}): {exc.message}"
        ) from None
    except RecursionError:  # jinja parses recursively: ~100 nested brackets are enough
        raise TemplateProblem("template syntax error: nested too deeply") from None
    if unsafe:
        raise TemplateProblem(f"unsafe template: {unsafe}")


@lru_cache(maxsize=4096)
def _compiled(source: str) -> jinja2.Template:
    # Scenario templates render once per item; compile each distinct source once.
    check_template(source)
    try:
        return environment().from_string(source)
    except jinja2.TemplateSyntaxError as exc:  # found compiling, e.g. an unknown filter
        raise TemplateProblem(f"template error: {exc.message}") from None
    except (RecursionError, SyntaxError):  # Python's limits on the code jinja generates
        raise TemplateProblem("template syntax error: nested too deeply") from None


def render_string(source: str, variables: dict[str, Any]) -> str:
    """Render a template string, raising `TemplateProblem` with a readable reason."""
    template = _compiled(source)
    budget = _range_left.set([MAX_RANGE])
    try:
        return template.render(**variables).strip()
    except jinja2.UndefinedError as exc:
        raise TemplateProblem(f"undefined template variable: {exc.message}") from None
    except jinja2.exceptions.SecurityError as exc:
        raise TemplateProblem(f"unsafe template: {exc}") from None
    except jinja2.TemplateError as exc:
        raise TemplateProblem(f"template error: {exc}") from None
    except Exception as exc:  # the methods a template calls on its variables can raise anything
        raise TemplateProblem(f"template error: {type(exc).__name__}: {exc}") from None
    finally:
        _range_left.reset(budget)


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
