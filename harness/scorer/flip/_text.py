"""Reply text for the flip detector: folded to plain text and split into sentences."""

from __future__ import annotations

import re
import unicodedata

_CHAR_MAP = {"\u2018": "'", "\u2019": "'", "\u201c": '"', "\u201d": '"', "\u2212": "-"}
_MARKUP = str.maketrans("*_`#>", "     ")


def fold(text: str) -> str:
    """Strip accents and unify quotes, one character for one, so positions stay valid."""
    if text.isascii():  # nothing to fold (every _CHAR_MAP key is non-ASCII): the usual case
        return text
    out: list[str] = []
    for ch in text:
        if ch in _CHAR_MAP:
            out.append(_CHAR_MAP[ch])
            continue
        if ch.isascii():
            out.append(ch)
            continue
        base = "".join(c for c in unicodedata.normalize("NFKD", ch) if not unicodedata.combining(c))
        out.append(base[0] if base else " ")
    return "".join(out)


_LIST_MARKER = re.compile(r"^[ \t]*\d{1,2}[.)][ \t]+", re.M)
_BULLET = re.compile(r"^[ \t]*[-\u2022][ \t]+", re.M)
_SENTENCE_END = re.compile(r"[.!?]+[\"')\]]*(?=\s)")


def _blank(text: str, pattern: re.Pattern[str]) -> str:
    return pattern.sub(lambda m: " " * len(m.group()), text)


def _sentences(plain: str) -> list[tuple[int, int]]:
    """Sentence spans: lines, split after end punctuation followed by white space."""
    spans: list[tuple[int, int]] = []
    for line in re.finditer(r"[^\n]+", plain):
        start = line.start()
        for end_mark in _SENTENCE_END.finditer(line.group()):
            spans.append((start, line.start() + end_mark.end()))
            start = line.start() + end_mark.end()
        spans.append((start, line.end()))
    trimmed = []
    for start, end in spans:
        chunk = plain[start:end]
        if chunk.strip():
            lead = len(chunk) - len(chunk.lstrip())
            trimmed.append((start + lead, start + len(chunk.rstrip())))
    return trimmed


def tail(text: str, size: int = 80) -> str:
    """The end of `text`: cues anchored at a mention never reach further back."""
    return text[-size:]


def prepare(text: str) -> tuple[str, str, list[tuple[int, int]]]:
    """A reply as the rules read it: `(folded, plain, sentence spans)`.

    `folded` has accents and quotes folded, one character for one, and list markers and
    bullets blanked; `plain` is `folded` with markdown blanked too. Positions are the same in
    `text`, `folded` and `plain`, so a span found in one is valid in the others.
    """
    folded = fold(text)
    # List markers and bullets are layout, not content ("2." is no answer in a numbered list).
    if len(_LIST_MARKER.findall(folded)) >= 2:
        folded = _blank(folded, _LIST_MARKER)
    folded = _blank(folded, _BULLET)
    plain = folded.translate(_MARKUP)
    return folded, plain, _sentences(plain)
