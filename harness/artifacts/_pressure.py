"""Patterns that appear under pressure: first replies against replies after pushback.

In a conversation of the pressure arm the first reply answers the opening, before any
pushback; every later reply answers pushback. Each pattern's prevalence is counted on
both sides, and the pattern is flagged under pressure when it is over-represented after
pushback, by the baseline comparison's own statistics (`flag_patterns`: two-sided Fisher
exact test, Holm across every pattern, p_holm < alpha and a ratio above 1), the first
replies playing the baseline.

Replies of one conversation are not independent (a model that apologised at turn 2 tends
to at turn 3), so the test counts conversations, not replies. Each conversation with a
first reply and at least one reply after pushback counts once on each side: whether its
first reply shows the pattern, and the share of its replies after pushback that do
(summed over the conversations and rounded down to a whole count).
"""

from __future__ import annotations

import math
from collections.abc import Sequence
from dataclasses import dataclass

import numpy as np

from harness.artifacts._scan import BoolArray, IntArray
from harness.artifacts._sources import Message
from harness.artifacts._stats import PatternCounts, PatternTest, fisher_exact, flag_patterns

AGAINST = "first replies"
"""What the replies after pushback are compared with, as flag reasons name it."""
MAX_CONVERSATIONS = 100_000
"""Largest conversation count searched for the fewest that could flag anything."""


@dataclass(frozen=True)
class Turns:
    """Where the conversations' first replies and replies after pushback are in a corpus."""

    conversations: int
    """Multi-turn conversations with at least one reply."""
    first_rows: IntArray
    """Per conversation, the message row of its first reply (-1 when it has none)."""
    pushback_rows: IntArray
    """Message rows of the replies after pushback."""
    pushback_conversation: IntArray
    """The conversation of each of `pushback_rows`."""
    tested: BoolArray
    """Conversations with a first reply and at least one reply after pushback."""

    @property
    def first_replies(self) -> int:
        """Conversations with a first reply."""
        return int((self.first_rows >= 0).sum())

    @property
    def n_tested(self) -> int:
        """Conversations counted by the test, on each side."""
        return int(self.tested.sum())


def conversation_turns(messages: Sequence[Message]) -> Turns | None:
    """First replies and replies after pushback of the corpus's conversations (None: none).

    A conversation is one eval sample of the pressure arm (`Message.dialogue_turn` > 0),
    named by its log and record.
    """
    index: dict[tuple[str, str], int] = {}
    first: list[int] = []
    rows: list[int] = []
    owners: list[int] = []
    for row, message in enumerate(messages):
        if message.dialogue_turn <= 0:
            continue
        key = (message.source, message.record)
        number = index.setdefault(key, len(index))
        if number == len(first):
            first.append(-1)
        if message.dialogue_turn == 1:
            first[number] = row
        else:
            rows.append(row)
            owners.append(number)
    if not index:
        return None
    first_rows = np.array(first, dtype=np.int64)
    owner = np.array(owners, dtype=np.int64)
    has_pushback = np.bincount(owner, minlength=len(first)) > 0
    return Turns(len(first), first_rows, np.array(rows, dtype=np.int64), owner,
                 (first_rows >= 0) & has_pushback)  # fmt: skip


@dataclass(frozen=True)
class SideCounts:
    """One pattern's counts in first replies and in replies after pushback."""

    first: int
    """First replies showing it."""
    after: int
    """Replies after pushback showing it."""
    conversations_after: int
    """Conversations with at least one reply after pushback showing it."""
    tested_first: int
    """Tested conversations whose first reply shows it."""
    tested_after: int
    """Over the tested conversations, the sum of each one's share of replies after pushback
    showing it, rounded down."""


def side_counts(turns: Turns, hits: BoolArray) -> SideCounts:
    """Count one pattern (its hit per message of the corpus) on both sides."""
    has_first = turns.first_rows >= 0
    first_hits = np.zeros(turns.conversations, dtype=np.bool_)
    first_hits[has_first] = hits[turns.first_rows[has_first]]
    after_hits = hits[turns.pushback_rows].astype(np.float64)
    per_conversation = np.bincount(
        turns.pushback_conversation, weights=after_hits, minlength=turns.conversations
    )
    replies = np.bincount(turns.pushback_conversation, minlength=turns.conversations)
    share = np.divide(per_conversation, replies, out=np.zeros_like(per_conversation),
                      where=replies > 0)  # fmt: skip
    return SideCounts(
        first=int(first_hits.sum()),
        after=int(after_hits.sum()),
        conversations_after=int((per_conversation > 0).sum()),
        tested_first=int(first_hits[turns.tested].sum()),
        # The tolerance keeps float sums of exact shares (0.5 + 0.5) from losing one.
        tested_after=math.floor(float(share[turns.tested].sum()) + 1e-9),
    )


def pressure_tests(turns: Turns, counts: Sequence[SideCounts], alpha: float) -> list[PatternTest]:
    """Fisher test per pattern (per conversation), Holm across them; flagged when over-represented.

    The prevalence threshold does not apply: the question is a shift between the two
    sides, not a level (the baseline comparison's over-representation rule alone).
    """
    n = turns.n_tested
    return flag_patterns(
        [
            PatternCounts(
                count=c.tested_after,
                n=n,
                base_count=c.tested_first,
                base_n=n,
                flag_by_prevalence=False,
            )
            for c in counts
        ],
        alpha=alpha,
        against=AGAINST,
    )


def smallest_holm_p(conversations: int, patterns: int) -> float:
    """The smallest Holm p any pattern can get: in every reply after pushback, no first reply."""
    if conversations <= 0 or patterns <= 0:
        return 1.0
    return min(1.0, patterns * fisher_exact(conversations, 0, 0, conversations))


def fewest_conversations(patterns: int, alpha: float) -> int | None:
    """The fewest tested conversations with which a pattern could be flagged at all."""
    if patterns <= 0:
        return None
    for n in range(1, MAX_CONVERSATIONS + 1):
        if smallest_holm_p(n, patterns) < alpha:
            return n
    return None
