"""Scan assistant messages: per-message detector hits and open discovery of openings/closings.

Discovery counts the first and last 2 to 5 words of every message (lowercased, apostrophes
dropped, other punctuation and emoji removed) and keeps the most frequent phrases. Nested
phrases are pruned so each message matches at most one kept phrase: a longer phrase
replaces its parent when it covers at least `keep_ratio` of the parent's messages
("great question the" rarely does; "let me know if" does for "me know if").
"""

from __future__ import annotations

import math
import re
from collections import Counter
from collections.abc import Sequence
from dataclasses import dataclass
from typing import Literal

import numpy as np
import numpy.typing as npt

from harness.artifacts._detectors import Detector, first_sentence, last_sentence
from harness.artifacts._sources import Message

PhraseKind = Literal["opening", "closing"]
MIN_WORDS = 2
MAX_WORDS = 5
_EDGE_CHARS = 200
"""Characters read at each end of a message for its opening and closing words."""
_APOSTROPHES = re.compile(r"['\u2019`]")
_NON_WORD = re.compile(r"[\W_]+")

BoolArray = npt.NDArray[np.bool_]
IntArray = npt.NDArray[np.int64]


def normalise_words(text: str) -> list[str]:
    """Lowercase words with apostrophes dropped and other punctuation removed."""
    return _NON_WORD.sub(" ", _APOSTROPHES.sub("", text.lower())).split()


def opening_words(text: str) -> tuple[str, ...]:
    """The first `MAX_WORDS` normalised words of a message."""
    return tuple(normalise_words(text[:_EDGE_CHARS])[:MAX_WORDS])


def closing_words(text: str) -> tuple[str, ...]:
    """The last `MAX_WORDS` normalised words of a message."""
    return tuple(normalise_words(text[-_EDGE_CHARS:])[-MAX_WORDS:])


def _text(message: Message | str) -> str:
    return message if isinstance(message, str) else message.text


@dataclass
class ScanResult:
    """Detector hits per message, and each message's opening and closing words."""

    n_messages: int
    pattern_names: list[str]
    """One column of `hits` per pattern (a detector, or a length bucket)."""
    hits: BoolArray
    """`hits[i, j]`: message i exhibits pattern j."""
    openings: list[tuple[str, ...]]
    closings: list[tuple[str, ...]]

    def column(self, name: str) -> BoolArray:
        """Hits of one pattern across messages."""
        return self.hits[:, self.pattern_names.index(name)]

    def count(self, name: str) -> int:
        """Messages exhibiting one pattern."""
        return int(self.column(name).sum())

    def prevalence(self, name: str) -> float:
        """Share of messages exhibiting one pattern (NaN with no messages)."""
        return self.count(name) / self.n_messages if self.n_messages else math.nan


def pattern_names(detectors: Sequence[Detector]) -> list[str]:
    """Every pattern the detectors report, in order."""
    return [name for detector in detectors for name in detector.pattern_names()]


def scan_messages(messages: Sequence[Message | str], detectors: Sequence[Detector]) -> ScanResult:
    """Run every detector on every message and record its opening and closing words."""
    names = pattern_names(detectors)
    column = {name: index for index, name in enumerate(names)}
    hits = np.zeros((len(messages), len(names)), dtype=np.bool_)
    openings: list[tuple[str, ...]] = []
    closings: list[tuple[str, ...]] = []
    for row, message in enumerate(messages):
        text = _text(message)
        cache: dict[tuple[str, int | None, bool], str] = {}  # regions shared by detectors
        for detector in detectors:
            found = detector.find(text, cache)
            if found is not None:
                hits[row, column[found]] = True
        openings.append(opening_words(text))
        closings.append(closing_words(text))
    return ScanResult(len(messages), names, hits, openings, closings)


@dataclass(frozen=True)
class Phrase:
    """A frequent opening or closing: its normalised words and how many messages have it."""

    kind: PhraseKind
    words: tuple[str, ...]
    count: int

    @property
    def text(self) -> str:
        """The words joined by spaces."""
        return " ".join(self.words)


def _edge(words: tuple[str, ...], n: int, kind: PhraseKind) -> tuple[str, ...]:
    return words[:n] if kind == "opening" else words[-n:]


def _parent(words: tuple[str, ...], kind: PhraseKind) -> tuple[str, ...]:
    return words[:-1] if kind == "opening" else words[1:]


def min_phrase_count(n_messages: int, min_share: float, floor: int = 3) -> int:
    """Fewest messages a discovered phrase needs: `min_share` of them, at least `floor`."""
    return max(floor, math.ceil(min_share * n_messages))


def frequent_phrases(
    word_lists: Sequence[tuple[str, ...]],
    kind: PhraseKind,
    min_count: int,
    top: int,
    keep_ratio: float = 0.8,
) -> list[Phrase]:
    """The `top` most frequent openings (or closings) of 2 to 5 words, nested ones pruned.

    Each message matches at most one returned phrase. Ties sort alphabetically, so the
    result is deterministic.
    """
    counts: Counter[tuple[str, ...]] = Counter()
    for words in word_lists:
        for n in range(MIN_WORDS, min(MAX_WORDS, len(words)) + 1):
            counts[_edge(words, n, kind)] += 1
    alive: set[tuple[str, ...]] = set()
    replaced: set[tuple[str, ...]] = set()
    candidates = sorted((g for g, c in counts.items() if c >= min_count), key=len)
    for phrase in candidates:
        if len(phrase) == MIN_WORDS:
            alive.add(phrase)
            continue
        parent = _parent(phrase, kind)
        if parent in alive and counts[phrase] >= keep_ratio * counts[parent]:
            replaced.add(parent)
            alive.add(phrase)
    kept = sorted(alive - replaced, key=lambda g: (-counts[g], " ".join(g)))
    return [Phrase(kind, words, counts[words]) for words in kept[:top]]


def phrase_index(
    word_lists: Sequence[tuple[str, ...]], phrases: Sequence[Phrase], group_of: Sequence[int]
) -> IntArray:
    """For each message, the group of the phrase it starts (or ends) with, else -1.

    `group_of[k]` is the group (e.g. cluster) of `phrases[k]`; all phrases share one kind.
    """
    result = np.full(len(word_lists), -1, dtype=np.int64)
    if not phrases:
        return result
    kind = phrases[0].kind
    lookup = {phrase.words: group for phrase, group in zip(phrases, group_of, strict=True)}
    lengths = sorted({len(p.words) for p in phrases})
    for row, words in enumerate(word_lists):
        for n in lengths:
            if n > len(words):
                break
            group = lookup.get(_edge(words, n, kind))
            if group is not None:
                result[row] = group
                break
    return result


def snippet(text: str, kind: str, limit: int = 200) -> str:
    """A short excerpt for examples: the first or last sentence, or the start of the text."""
    if kind == "opening":
        part = first_sentence(text)
    elif kind == "closing":
        part = last_sentence(text)
    else:
        part = text.strip()
    part = " ".join(part.split())
    return part if len(part) <= limit else part[: limit - 1] + "…"
