"""The package's shape: imports run one way, modules stay small, public faces are used."""

from __future__ import annotations

import ast
from pathlib import Path

import pytest

from tests.conftest import REPO

PACKAGE = REPO / "harness"

LAYERS = (
    "harness._util",
    "harness.scenario",
    "harness.scorer.flip",
    "harness.scorer",
    "harness.solver",
    "harness.task",
    "harness.log",
    "harness.artifacts",
    "harness.report",
    "harness.model",
    "harness.organisms",
    "harness._cli",
)
"""Subpackages from the bottom up: a module may import only from its own layer or below."""

TOP_LEVEL = {"harness", "harness.cli", "harness._registry"}
"""Entry points above every layer (`harness` itself holds only the version)."""

MAX_LINES = 800
MAX_CLI_LINES = 400


def module_name(path: Path) -> str:
    parts = path.relative_to(REPO).with_suffix("").parts
    name = ".".join(parts)
    return name.removesuffix(".__init__")


def modules() -> dict[str, Path]:
    return {module_name(path): path for path in sorted(PACKAGE.rglob("*.py"))}


def _type_checking_nodes(tree: ast.AST) -> set[int]:
    skipped: set[int] = set()
    for node in ast.walk(tree):
        if isinstance(node, ast.If) and "TYPE_CHECKING" in ast.unparse(node.test):
            skipped.update(id(child) for stmt in node.body for child in ast.walk(stmt))
    return skipped


def imports_of(path: Path, known: set[str]) -> set[str]:
    """Harness modules `path` imports, at module level or inside functions (not TYPE_CHECKING).

    `from harness.pkg import name` counts as an import of `harness.pkg` (its face, which runs
    first) and of `harness.pkg.name` when that is a module.
    """
    tree = ast.parse(path.read_text(encoding="utf-8"))
    skipped = _type_checking_nodes(tree)
    found: set[str] = set()
    for node in ast.walk(tree):
        if id(node) in skipped:
            continue
        if isinstance(node, ast.ImportFrom) and node.level == 0 and node.module:
            if node.module.split(".")[0] != "harness":
                continue
            # The package itself counts too: `from pkg import submodule` runs pkg's face.
            found.add(node.module)
            found.update(full for a in node.names if (full := f"{node.module}.{a.name}") in known)
        elif isinstance(node, ast.Import):
            found.update(a.name for a in node.names if a.name.split(".")[0] == "harness")
    return found


def import_graph() -> dict[str, set[str]]:
    mods = modules()
    known = set(mods)
    return {name: imports_of(path, known) - {name} for name, path in mods.items()}


def find_cycle(graph: dict[str, set[str]]) -> list[str] | None:
    """One import cycle of `graph`, as a path that ends where it started, or None."""
    state: dict[str, int] = {}
    stack: list[str] = []

    def visit(node: str) -> list[str] | None:
        state[node] = 1
        stack.append(node)
        for target in sorted(graph.get(node, ())):
            if state.get(target) == 1:
                return [*stack[stack.index(target) :], target]
            if target not in state and (cycle := visit(target)) is not None:
                return cycle
        stack.pop()
        state[node] = 2
        return None

    for node in sorted(graph):
        if node not in state and (cycle := visit(node)) is not None:
            return cycle
    return None


def layer_of(module: str) -> int | None:
    for index, layer in enumerate(LAYERS):
        if module == layer or module.startswith(layer + "."):
            return index
    return None


def test_no_import_cycle() -> None:
    assert find_cycle(import_graph()) is None


def test_cycle_finder_finds_a_planted_cycle() -> None:
    graph = import_graph()
    graph["harness._util._paths"] = {*graph["harness._util._paths"], "harness.scenario._loader"}
    cycle = find_cycle(graph)
    assert cycle is not None and cycle[0] == cycle[-1]
    assert "harness._util._paths" in cycle and "harness.scenario._loader" in cycle


def test_imports_run_down_the_layers() -> None:
    wrong = []
    for module, targets in import_graph().items():
        if module in TOP_LEVEL:
            continue
        own = layer_of(module)
        assert own is not None, f"{module} belongs to no layer"
        for target in targets:
            theirs = layer_of(target)
            if target == "harness":
                continue
            assert theirs is not None, f"{module} imports {target}, which belongs to no layer"
            if theirs > own:
                wrong.append(f"{module} -> {target}")
    assert wrong == []


def test_util_imports_nothing_else_from_harness() -> None:
    for module, targets in import_graph().items():
        if module.startswith("harness._util"):
            assert all(t.startswith("harness._util") for t in targets), module


def test_other_packages_use_public_faces() -> None:
    """A module reaches into another subpackage only through that package's `__init__`."""
    wrong = []
    for module, targets in import_graph().items():
        if module in TOP_LEVEL:
            continue
        own = LAYERS[layer_of(module) or 0]
        for target in targets:
            layer = layer_of(target)
            if layer is None or LAYERS[layer] == own:
                continue
            if any(part.startswith("_") for part in target.split(".")[2:]):
                wrong.append(f"{module} -> {target}")
    assert wrong == []


@pytest.mark.parametrize("name", sorted(modules()))
def test_module_size(name: str) -> None:
    limit = MAX_CLI_LINES if name.startswith("harness._cli") or name == "harness.cli" else MAX_LINES
    lines = len(modules()[name].read_text(encoding="utf-8").splitlines())
    assert lines <= limit, f"{name}: {lines} lines (limit {limit})"


PACKAGES = sorted(n for n, p in modules().items() if p.name == "__init__.py" and n != "harness")


@pytest.mark.parametrize("name", PACKAGES)
def test_public_faces_declare_all(name: str) -> None:
    path = modules()[name]
    tree = ast.parse(path.read_text(encoding="utf-8"))
    names = [
        target.id
        for node in tree.body
        if isinstance(node, ast.Assign)
        for target in node.targets
        if isinstance(target, ast.Name)
    ]
    assert "__all__" in names, f"{name} has no __all__"


MAX_FUNCTION_LINES = 80
LONG_REASON = "Long because"
"""A function over the limit says why in its docstring, starting a sentence with this."""


def long_functions() -> list[str]:
    found = []
    for name, path in modules().items():
        for node in ast.walk(ast.parse(path.read_text(encoding="utf-8"))):
            if not isinstance(node, ast.FunctionDef | ast.AsyncFunctionDef):
                continue
            length = (node.end_lineno or node.lineno) - node.lineno + 1
            if length > MAX_FUNCTION_LINES and LONG_REASON not in (ast.get_docstring(node) or ""):
                found.append(f"{name}.{node.name}: {length} lines")
    return found


def test_long_functions_say_why() -> None:
    assert long_functions() == []
