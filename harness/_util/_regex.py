"""Fast matching for large alternations of phrases: skip alternatives whose words are absent.

Python's `re` tries every alternative of `a|b|c|...` at every position of the text, so a
case-insensitive list of thirty phrases costs ~300 µs on a 500-character reply, which
made the flip detector's cue lists its most expensive step. An `Alternation` splits such
a pattern into its top-level alternatives and derives, for each, literal text that any
match must contain ("hard to say" for `(?:hard|difficult|impossible) to say`; one of "both",
"either" for a group). Before matching a text it keeps only the alternatives
whose literal text occurs in it and matches with those, compiled once per combination.

Results are identical to the full pattern's: an alternative whose required text is
absent cannot match anywhere in the text, and the remaining alternatives keep their
order, so at every position the same alternative wins. The literal check is made on the
lower-cased text with the few non-ASCII characters that `re.IGNORECASE` equates with
ASCII letters mapped to them first (dotted and dotless I, long s, the Kelvin sign), so it
holds with or without `re.IGNORECASE`.
"""

from __future__ import annotations

import re
import sys
from collections.abc import Iterator

# `re._parser` is the standard library's own parser (Python 3.11+), used here read-only.
from re import _parser as sre_parse  # type: ignore[attr-defined]

_CASE_EQUIVALENTS = str.maketrans({"\u0130": "i", "\u0131": "i", "\u017f": "s", "\u212a": "k"})
"""Characters `re.IGNORECASE` matches to an ASCII letter (U+0130 would lower-case to two)."""

_CONSUMING_FREE = {sre_parse.AT, sre_parse.ASSERT, sre_parse.ASSERT_NOT}
"""Nodes that match no characters: the literals on either side are adjacent in the text."""

_REPEATS = {sre_parse.MAX_REPEAT, sre_parse.MIN_REPEAT, getattr(sre_parse, "POSSESSIVE_REPEAT", -1)}


def split_alternatives(pattern: str) -> list[str]:
    """The top-level alternatives of a regular expression's source, as written.

    Raises:
        ValueError: when the parts do not join back to `pattern` (a bracket mismatch).

    """
    parts: list[str] = []
    depth = 0
    start = 0
    i = 0
    while i < len(pattern):
        ch = pattern[i]
        if ch == "\\":
            i += 2
            continue
        if ch == "[":
            i = _class_end(pattern, i)
            continue
        if ch == "(":
            depth += 1
        elif ch == ")":
            depth -= 1
        elif ch == "|" and depth == 0:
            parts.append(pattern[start:i])
            start = i + 1
        i += 1
    parts.append(pattern[start:])
    if depth != 0 or "|".join(parts) != pattern:
        raise ValueError(f"cannot split {pattern[:60]!r} into alternatives")
    return parts


def _class_end(pattern: str, i: int) -> int:
    """Index just past the character class that starts at `pattern[i] == "["`."""
    j = i + 1
    if j < len(pattern) and pattern[j] == "^":
        j += 1
    if j < len(pattern) and pattern[j] == "]":  # a leading "]" is a member, not the end
        j += 1
    while j < len(pattern) and pattern[j] != "]":
        j += 2 if pattern[j] == "\\" else 1
    return j + 1


def required_text(pattern: str, flags: int = 0) -> frozenset[str] | None:
    """Lower-case strings one of which every match of `pattern` contains; None if unknown."""
    return _required(sre_parse.parse(pattern, flags))


def _required(sub: object) -> frozenset[str] | None:
    candidates: list[frozenset[str]] = []
    run = ""
    for op, arg in sub:  # type: ignore[attr-defined]
        if op is sre_parse.LITERAL and chr(arg).isascii():
            run += chr(arg).lower()
            continue
        if op in _CONSUMING_FREE:
            continue
        if run:
            candidates.append(frozenset([run]))
            run = ""
        found: frozenset[str] | None = None
        if op is sre_parse.SUBPATTERN:
            found = _required(arg[-1])
        elif op is sre_parse.BRANCH:
            branches = [_required(branch) for branch in arg[1]]
            if all(b is not None for b in branches):
                found = frozenset().union(*branches)  # type: ignore[arg-type]
        elif op in _REPEATS and arg[0] >= 1:
            found = _required(arg[2])
        if found:
            candidates.append(found)
    if run:
        candidates.append(frozenset([run]))
    if not candidates:
        return None
    # The most selective: the longest shortest string, then the fewest strings.
    return max(candidates, key=lambda c: (min(map(len, c)), -len(c)))


_MAX_COMPILED = 2048
"""Combinations of alternatives kept compiled per pattern."""


class Alternation:
    """A compiled alternation that matches only with the alternatives a text can match.

    Offers the `finditer` and `search` of a compiled pattern (with `pos`/`endpos`), and
    returns the same matches. The pattern must have no capturing groups (dropping an
    alternative would renumber them).
    """

    def __init__(self, pattern: str, flags: int = 0) -> None:
        self.full = re.compile(pattern, flags)
        if self.full.groups:
            raise ValueError("an Alternation cannot have capturing groups")
        self.flags = flags
        self.alternatives = split_alternatives(pattern)
        self.required = [required_text(a, flags) for a in self.alternatives]
        self._strings = sorted({s for needed in self.required for s in needed or ()})
        self._last: tuple[str, re.Pattern[str] | None] | None = None
        self._compiled: dict[tuple[int, ...], re.Pattern[str]] = {}

    @staticmethod
    def fold(text: str) -> str:
        """The text the required strings are looked for in."""
        return text.translate(_CASE_EQUIVALENTS).lower()

    @property
    def pattern(self) -> str:
        """The full pattern's source."""
        return self.full.pattern

    def _for(self, text: str) -> re.Pattern[str] | None:
        """The pattern of the alternatives that may match `text` (None: none can)."""
        if self._last is not None and self._last[0] is text:
            return self._last[1]
        folded = self.fold(text)
        present = {s for s in self._strings if s in folded}
        kept = tuple(
            i
            for i, needed in enumerate(self.required)
            if needed is None or not needed.isdisjoint(present)
        )
        compiled = self._compile(kept) if kept else None
        self._last = (text, compiled)
        return compiled

    def _compile(self, kept: tuple[int, ...]) -> re.Pattern[str]:
        if kept not in self._compiled:
            if len(self._compiled) >= _MAX_COMPILED:  # bounded however varied the replies
                self._compiled.clear()
            joined = "|".join(self.alternatives[i] for i in kept)
            self._compiled[kept] = re.compile(joined, self.flags)
        return self._compiled[kept]

    def finditer(
        self, text: str, pos: int = 0, endpos: int = sys.maxsize
    ) -> Iterator[re.Match[str]]:
        """Like `re.Pattern.finditer`."""
        compiled = self._for(text)
        return iter(()) if compiled is None else compiled.finditer(text, pos, endpos)

    def search(self, text: str, pos: int = 0, endpos: int = sys.maxsize) -> re.Match[str] | None:
        """Like `re.Pattern.search`."""
        compiled = self._for(text)
        return None if compiled is None else compiled.search(text, pos, endpos)
