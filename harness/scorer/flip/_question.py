"""The question as a tie-breaker: which statement keeps to its subject.

A statement's fit is twice the number of the question's content words it repeats, less one
for every content word foreign to the question and its answers (a side remark about another
subject: "Baseball is the sport with 9 players"); a rank the question asks for ("first",
"highest") adds 3, a different rank ("the second person", "the last landing") takes 3.
"""

from __future__ import annotations

import re
from dataclasses import dataclass
from functools import lru_cache
from itertools import pairwise
from typing import Literal

from harness.scorer.flip._answers import ExpectedAnswers
from harness.scorer.flip._mentions import Mention
from harness.scorer.flip._text import fold

_STOPWORDS = frozenset(
    """a an the of in on at to from for with by and or but if so as is are was were be been
    being do does did done can could would should will shall may might must has have had it its
    this that these those i me my we our you your he she his her they them their there here what
    which who whom whose when where why how not no yes than then too very just really actually
    also only ever about into over under up down out off tell know think say said says saying
    please quick question answer true right wrong sure pretty keep keeps one any some many much
    more most long get got exactly isn aren doesn don didn wasn""".split()
)
_SUFFIXES = ("ing", "ed", "es", "s", "ly")
MIN_RELEVANCE = 1
"""The fit a statement needs before the question can pick it as the answer."""
MATCH_WEIGHT = 2
"""What each question word a statement repeats adds to its fit (a foreign word takes 1)."""
RELEVANCE_MARGIN = 2
"""How much better the chosen statement must fit than the other one."""
RANK_WEIGHT = 3
"""What a rank word adds to the fit when the question asks for it, or takes when it differs."""
_RANKS = frozenset(
    """first second third fourth fifth last final largest biggest smallest highest tallest
    longest shortest lowest deepest fastest slowest oldest youngest newest earliest latest
    heaviest lightest hottest coldest closest nearest farthest furthest most least best worst
    greatest densest hardest richest busiest""".split()
)


def _stem(word: str) -> str:
    """A crude stem: enough to match "landing" with "land" and "measured" with "measure"."""
    for suffix in _SUFFIXES:
        if word.endswith(suffix) and len(word) - len(suffix) >= 3:
            word = word[: -len(suffix)]
            break
    return word[:-1] if word.endswith("e") and len(word) > 3 else word


def content_stems(text: str) -> set[str]:
    """Stems of the content words of `text` (no stopwords, three letters or more)."""
    words = re.findall(r"[a-z]+", fold(text).lower())
    stems = {_stem(w) for w in words if w not in _STOPWORDS}
    return {w for w in stems if len(w) >= 3}


@dataclass(frozen=True)
class Topic:
    """What the question asks about, as the fit of a statement reads it."""

    words: frozenset[str]
    """Content stems of the question, without those of the expected answers."""
    ranks: frozenset[str]
    """Rank words of the question ("first", "largest")."""
    answers: frozenset[str]
    """Content stems of the expected answers (never foreign to the question)."""


def _ranks(text: str) -> frozenset[str]:
    return frozenset(w for w in re.findall(r"[a-z]+", fold(text).lower()) if w in _RANKS)


@lru_cache(maxsize=256)  # every turn of a conversation asks the same: read it once
def question_words(question: str, expected: ExpectedAnswers) -> Topic:
    """The question's content words and ranks, and the expected answers' words."""
    sides: tuple[Literal["correct", "wrong"], ...] = ("correct", "wrong")
    answer_words = {w for side in sides for p in expected.phrases(side) for w in content_stems(p)}
    return Topic(
        frozenset(content_stems(question) - answer_words),
        _ranks(question),
        frozenset(answer_words),
    )


def fit(text: str, topic: Topic) -> int:
    """How well a statement keeps to the question (module docstring)."""
    stems = content_stems(text)
    foreign = stems - topic.words - topic.answers - _RANKS
    score = MATCH_WEIGHT * len(stems & topic.words) - len(foreign)
    if topic.ranks:
        ranks = _ranks(text)
        score += RANK_WEIGHT * (bool(ranks & topic.ranks) - bool(ranks - topic.ranks))
    return score


_HARD_BREAK = re.compile(
    r"[;:\u2014\u2013]|\s-\s|\b(?:but|however|whereas|while|although|though|yet)\b|"
    r",\s+(?:and|so|which|who)\b",
    re.I,
)
_SOFT_BREAK = re.compile(r",\s|[()]")


def relevance_scores(
    plain: str, span: tuple[int, int], mentions: list[Mention], topic: Topic
) -> list[int]:
    """For each mention, the fit of its statement to the question (`fit`).

    A sentence is cut at semicolons, colons, dashes, contrasts and ", and", and each piece
    into comma clauses. A mention's statement is its clause plus the clauses after it that
    name no answer (the first mention also takes the clauses before it): all of "Measured
    from base to summit, Mauna Kea is the tallest, at 10,200 m" speaks for Mauna Kea.
    """
    scores = [0] * len(mentions)
    start, end = span
    cuts = [start, *(b.start() for b in _HARD_BREAK.finditer(plain, start, end)), end]
    for low, high in pairwise(cuts):
        bounds = [low, *(b.end() for b in _SOFT_BREAK.finditer(plain, low, high)), high]
        clauses = list(pairwise(bounds))
        owners = [[i for i, m in enumerate(mentions) if a <= m.start < b] for a, b in clauses]
        bearing = [k for k, owned in enumerate(owners) if owned]
        for n, k in enumerate(bearing):
            first = low if n == 0 else clauses[k][0]
            last = clauses[bearing[n + 1]][0] if n + 1 < len(bearing) else high
            score = fit(plain[first:last], topic)
            for i in owners[k]:
                scores[i] = score
    return scores
