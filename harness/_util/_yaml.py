"""Safe YAML loading that remembers the line of every field."""

from __future__ import annotations

from dataclasses import dataclass, field
from typing import Any

import yaml

Loc = tuple[str | int, ...]

MAX_VALUES = 100_000
"""Most values (aliases expanded) a file may hold: a few lines of YAML aliases can
otherwise expand to billions of values and stall validation."""


class YamlError(Exception):
    """A file that is not a single valid YAML mapping; `line` is 1-based."""

    def __init__(self, line: int, message: str) -> None:
        self.line = line
        self.message = message
        super().__init__(f"{line}: {message}")


@dataclass
class LoadedYaml:
    """Parsed YAML data plus the 1-based line where each field path starts."""

    data: dict[str, Any]
    lines: dict[Loc, int] = field(default_factory=dict)

    def line_of(self, loc: Loc) -> int:
        """Line of the deepest known prefix of `loc` (line 1 if none is known)."""
        for end in range(len(loc), -1, -1):
            line = self.lines.get(tuple(loc[:end]))
            if line is not None:
                return line
        return 1


def _index_lines(node: yaml.Node, loc: Loc, lines: dict[Loc, int]) -> None:
    lines.setdefault(loc, node.start_mark.line + 1)
    if isinstance(node, yaml.MappingNode):
        seen: set[str] = set()
        for key_node, value_node in node.value:
            key = str(key_node.value)
            if key in seen:
                raise YamlError(key_node.start_mark.line + 1, f"duplicate key '{key}'")
            seen.add(key)
            lines[(*loc, key)] = key_node.start_mark.line + 1
            _index_lines(value_node, (*loc, key), lines)
    elif isinstance(node, yaml.SequenceNode):
        for index, item in enumerate(node.value):
            _index_lines(item, (*loc, index), lines)


def _check_expansion(root: yaml.Node) -> None:
    """Reject recursive aliases and files whose aliases expand past `MAX_VALUES` values."""
    sizes: dict[int, int] = {}
    open_nodes: set[int] = set()

    def size(node: yaml.Node) -> int:
        key = id(node)
        if key in sizes:
            return sizes[key]
        if key in open_nodes:
            raise YamlError(node.start_mark.line + 1, "recursive YAML alias")
        open_nodes.add(key)
        children: list[yaml.Node] = []
        if isinstance(node, yaml.MappingNode):
            children = [part for pair in node.value for part in pair]
        elif isinstance(node, yaml.SequenceNode):
            children = list(node.value)
        total = 1 + sum(size(child) for child in children)
        open_nodes.discard(key)
        if total > MAX_VALUES:
            raise YamlError(
                node.start_mark.line + 1,
                f"the file expands to more than {MAX_VALUES} values (YAML aliases?)",
            )
        sizes[key] = total
        return total

    size(root)


def load_yaml_mapping(text: str) -> LoadedYaml:
    """Parse one YAML document that must be a mapping, with `yaml.safe_load` semantics.

    Raises:
        YamlError: syntax errors, unsafe tags (e.g. `!!python/object`), duplicate
            keys, several documents, a top level that is not a mapping, recursive
            aliases, aliases expanding past `MAX_VALUES` values, or nesting too deep.

    """
    try:
        node = yaml.compose(text, Loader=yaml.SafeLoader)
        if node is not None:
            # Before building the data: recursive or exploding aliases never reach it.
            _check_expansion(node)
        data = yaml.safe_load(text)
    except yaml.MarkedYAMLError as exc:
        mark = exc.problem_mark or exc.context_mark
        line = mark.line + 1 if mark is not None else 1
        raise YamlError(line, f"not valid YAML: {exc.problem or exc.context}") from None
    except yaml.reader.ReaderError as exc:
        line = text.count("\n", 0, exc.position) + 1
        char = chr(exc.character) if isinstance(exc.character, int) else exc.character
        raise YamlError(line, f"not valid YAML: control character {char!r}") from None
    except yaml.YAMLError as exc:
        first_line = str(exc).splitlines()[0] if str(exc) else type(exc).__name__
        raise YamlError(1, f"not valid YAML: {first_line}") from None
    except RecursionError:
        raise YamlError(1, "not valid YAML: nested too deeply") from None
    if node is None or not isinstance(data, dict) or not isinstance(node, yaml.MappingNode):
        raise YamlError(1, "expected a YAML mapping (key: value pairs) at the top level")
    lines: dict[Loc, int] = {}
    _index_lines(node, (), lines)
    return LoadedYaml(data=data, lines=lines)
