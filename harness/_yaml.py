"""Safe YAML loading that remembers the line of every field."""

from __future__ import annotations

from dataclasses import dataclass, field
from typing import Any

import yaml

Loc = tuple[str | int, ...]


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


def load_yaml_mapping(text: str) -> LoadedYaml:
    """Parse one YAML document that must be a mapping, with `yaml.safe_load` semantics.

    Raises:
        YamlError: syntax errors, unsafe tags (e.g. `!!python/object`), duplicate
            keys, several documents, or a top level that is not a mapping.

    """
    try:
        node = yaml.compose(text, Loader=yaml.SafeLoader)
        data = yaml.safe_load(text)
    except yaml.MarkedYAMLError as exc:
        mark = exc.problem_mark or exc.context_mark
        line = mark.line + 1 if mark is not None else 1
        raise YamlError(line, f"not valid YAML: {exc.problem or exc.context}") from None
    except yaml.YAMLError as exc:
        raise YamlError(1, f"not valid YAML: {exc}") from None
    if node is None or not isinstance(data, dict) or not isinstance(node, yaml.MappingNode):
        raise YamlError(1, "expected a YAML mapping (key: value pairs) at the top level")
    lines: dict[Loc, int] = {}
    _index_lines(node, (), lines)
    return LoadedYaml(data=data, lines=lines)
