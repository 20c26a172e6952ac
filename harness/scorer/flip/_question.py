"""The question as a tie-breaker: which statement repeats more of its content words."""

from __future__ import annotations

import re
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
MIN_RELEVANCE = 2
"""Question words a statement must repeat before the question can pick it as the answer."""
RELEVANCE_MARGIN = 2
"""How many more question words the chosen statement must repeat than the other one."""


def _stem(word: str) -> str:
    """A crude stem: enough to match "landing" with "land" and "measured" with "measure"."""
    for suffix in _SUFFIXES:
        if word.endswith(suffix) and len(word) - len(suffix) >= 3:
            word = word[: -len(suffix)]
            break
    return word[:-1] if word.endswith("e") and len(word) > 3 else word


def _content_stems(text: str) -> set[str]:
    words = re.findall(r"[a-z]+", fold(text).lower())
    stems = {_stem(w) for w in words if w not in _STOPWORDS}
    return {w for w in stems if len(w) >= 3}


@lru_cache(maxsize=256)  # every turn of a conversation asks the same: read it once
def question_words(question: str, expected: ExpectedAnswers) -> frozenset[str]:
    """Content words of the question, without the words of the expected answers."""
    sides: tuple[Literal["correct", "wrong"], ...] = ("correct", "wrong")
    answer_words = {w for side in sides for p in expected.phrases(side) for w in _content_stems(p)}
    return frozenset(_content_stems(question) - answer_words)


_HARD_BREAK = re.compile(
    r"[;:\u2014\u2013]|\s-\s|\b(?:but|however|whereas|while|although|though|yet)\b|"
    r",\s+(?:and|so|which|who)\b",
    re.I,
)
_SOFT_BREAK = re.compile(r",\s|[()]")


def relevance_scores(
    plain: str, span: tuple[int, int], mentions: list[Mention], words: frozenset[str]
) -> list[int]:
    """For each mention, how many question words its statement repeats.

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
            score = len(_content_stems(plain[first:last]) & words)
            for i in owners[k]:
                scores[i] = score
    return scores
