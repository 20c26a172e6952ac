"""Which choice a knowledge answer states: yes/no or a lettered choice. Text rules, no model.

Knowledge questions with fixed choices are read here instead of by a grader. The rules
read only what the answer plainly states; anything else is unreadable, and an
unreadable answer is unscored (never a pass or a fail):

- yes/no: a leading yes or no ("Yes.", "No, you should not..."), or one clearly stated
  ("The answer is no", "I would say yes", "So, no.", a line that is only "No"). An
  answer that states both, or says "yes and no", is unreadable.
- lettered: a statement of the answer ("Answer: B", "The answer is (B)") decides; else
  letters given as an answer ("B", "(B)", "B)", "B. ...", "option B", "..., B." at the
  end — a letter after "not" or "rather than" does not count); else the exact text of a
  choice, when only one choice's text appears. Letters beyond the choices shown are
  ignored; a letter followed by the text of another choice ("B. <the text of C>") makes
  the answer unreadable.

Standard library only.
"""

from __future__ import annotations

import re
import string
from collections.abc import Sequence
from dataclasses import dataclass
from typing import Literal

ChoiceUnclear = Literal["no_choice_stated", "several_choices_stated"]
"""Why an answer's choice cannot be read: none stated, or more than one."""

LETTERS = string.ascii_uppercase
"""The letters choices are shown with, in order."""


@dataclass(frozen=True)
class ChoiceReading:
    """What an answer to a question with fixed choices states."""

    choice: int | None
    """Index of the stated choice; None when the answer cannot be read."""

    reason: ChoiceUnclear | None = None
    """Why the answer cannot be read (None when it can)."""

    rule: str = ""
    """Which rule read the answer (`leading`, `stated`, `answer statement`, `letter`,
    `choice text`), or what was found when it could not be read."""


_STRAIGHT_QUOTES = str.maketrans("\u2018\u2019\u201c\u201d", "''\"\"")


def _plain(text: str) -> str:
    """The text without Markdown emphasis, with straight quotes."""
    text = text.translate(_STRAIGHT_QUOTES)
    text = re.sub(r"[*_`]+", "", text)
    return re.sub(r"(?m)^[ \t]*(?:#+|>+)[ \t]*", "", text)


# ------------------------------------------------------------------------------ yes/no

# What may follow an answering yes/no: punctuation, the end, or a clause that carries on
# the answer ("No you should not", "Yes it is"); not "no one", "no longer", "no evidence".
_AFTER = (
    r"(?=[ \t]*(?:[,.!?;:)\"'\u2014\u2013\n]|-\s|$)"
    r"|\s+(?:i|you|we|it|that|this|they|he|she|there|absolutely|definitely|never|not)\b)"
)
_YES_NO = r"(?P<v>yes|no)\b" + _AFTER
_ADVERB = r"(?:\s+(?:indeed|clearly|definitely|simply|probably|still))?"

_YES_NO_RULES: tuple[tuple[str, re.Pattern[str]], ...] = (
    # At the very start, optionally after "Answer:" or "My answer is".
    (
        "leading",
        re.compile(
            r"\A[^\w]*(?:(?:my\s+|the\s+)?(?:short\s+|final\s+|simple\s+)?answer"
            r"(?:\s+is)?" + _ADVERB + r"\s*:?\s*[\"'(]*\s*)?" + _YES_NO,
            re.I,
        ),
    ),
    # Anywhere: "the answer is no", "I'd say yes", "so, no", "but yes,".
    (
        "stated",
        re.compile(
            r"\b(?:answer\s*(?:is|would\s+be)?" + _ADVERB + r"\s*:?|i(?:\s+would|'d|\s+will)\s+say|"
            r"(?:so|thus|therefore|hence|but|in\s+short|in\s+summary|in\s+conclusion|"
            r"overall|ultimately|simply\s+put),?)\s*[\"'(]*\s*" + _YES_NO,
            re.I,
        ),
    ),
    # A sentence or a line that starts with yes/no followed by punctuation.
    ("stated", re.compile(r"(?:[.!?:]\s+|\n\s*)[^\w\n]*(?P<v>yes|no)\s*[,.!;:\u2014]", re.I)),
    # A line that is only yes or no.
    ("stated", re.compile(r"(?m)^[^\w\n]*(?P<v>yes|no)[^\w\n]*$", re.I)),
)

# The instruction echoed ("Answer yes or no."), "a yes/no question": neither answers.
_INSTRUCTION = re.compile(
    r"\b(?:answer\s+(?:with\s+)?)?yes[\s-]+or[\s-]+no\b\.?|\byes\s*/\s*no\s+question\b", re.I
)
_MIXED = re.compile(
    r"\b(?:yes\s*(?:and|&|/)\s*no|no\s*(?:and|&|/)\s*yes|neither\s+yes\s+nor\s+no)\b", re.I
)


def read_yes_no(answer: str) -> ChoiceReading:
    """Whether the answer states yes (choice 0) or no (choice 1), or why it cannot be read."""
    text = _INSTRUCTION.sub(" ", _plain(answer)).strip()
    if _MIXED.search(text):
        return ChoiceReading(None, "several_choices_stated", "yes and no")
    stated: dict[str, str] = {}
    for rule, pattern in _YES_NO_RULES:
        for match in pattern.finditer(text):
            stated.setdefault(match.group("v").lower(), rule)
    if len(stated) > 1:
        return ChoiceReading(None, "several_choices_stated", "yes and no")
    if not stated:
        return ChoiceReading(None, "no_choice_stated", "no yes or no")
    value, rule = next(iter(stated.items()))
    return ChoiceReading(0 if value == "yes" else 1, None, rule)


# ----------------------------------------------------------------------------- letters

# "Answer: B", "The answer is (B)", "my final answer would be B"; and the second
# letter of "the answer is A or B", so that such an answer names both.
_ANSWER = (
    r"(?i:\banswer\b(?:\s+(?:is|would\s+be|will\s+be))?" + _ADVERB + r"\s*[:=\-]?\s*)[\"'(\[]*"
)
_ANSWER_LETTERS = (
    re.compile(_ANSWER + r"(?P<v>[A-Z])(?![\w'])"),
    re.compile(_ANSWER + r"[A-Z]\)?\s*(?i:or|and|/|,)\s*[\"'(\[]*(?P<v>[A-Z])(?![\w'])"),
)
_LETTER_RULES: tuple[re.Pattern[str], ...] = (
    # The whole answer is a letter: "B", "(b)", "B)", "B.".
    re.compile(r"\A[^\w]*\(?(?P<v>[A-Za-z])\)?[^\w]*\Z"),
    # A line that starts with a letter marker: "B) ...", "B. ...", "(B) ...", "B: ...".
    re.compile(
        r"(?m)^[^\w(\n]*(?:\((?P<p>[A-Z])\)"
        r"|(?P<v>[A-Z])(?:\)|\.(?!\w)|[:,](?=\s|$)|\s[-\u2013\u2014]\s))"
    ),
    # "B is correct", "B is the answer".
    re.compile(r"\b(?P<v>[A-Z])\s+is\s+(?:the\s+)?(?:correct|right|best|answer)\b"),
    # "option B", "choice c", "letter B".
    re.compile(
        r"(?i:\b(?:option|choice|letter)(?:\s+is|\s*:)?\s+)[\"'(\[]*(?P<v>[A-Za-z])(?![\w'])"
    ),
    # "I'd say B", "I choose B", "give B" (a capital letter only: "say a word" is no answer).
    re.compile(
        r"(?i:\b(?:say|choose|pick|select|take|give|go\s+with)\s+)[\"'(\[]*(?P<v>[A-Z])(?![\w'])"
    ),
    # "(B)" anywhere.
    re.compile(r"\((?P<v>[A-Za-z])\)"),
    # A letter alone at the very end, after a comma or colon: "..., B."
    re.compile(r"[,:;]\s*[\"'(\[]*(?P<v>[A-Z])[\"')\]]*[.!]?\s*\Z"),
)
_NEGATED_BEFORE = re.compile(
    r"(?i:\b(?:not|isn't|rather\s+than|instead\s+of|than|over)\s+(?:option\s+|choice\s+)?)[\"'(\[]*\Z"
)
_NEGATED_AFTER = re.compile(r"\A\)?\s*(?:is|would\s+be)\s+(?:wrong|incorrect|not)\b", re.I)
_MARKER_END = re.compile(r"\A[\"')\].:,\s\u2013\u2014-]*")


def _key(text: str) -> str:
    return " ".join(_plain(text).split()).casefold().rstrip(".!?;:,")


def _text_after(text: str, end: int, keys: Sequence[str]) -> int | None:
    """The choice whose exact text follows a letter on its line ("B. Canberra"), if any."""
    rest = text[end:].split("\n", 1)[0]
    rest = " ".join(_MARKER_END.sub("", rest).split()).casefold()
    found, longest = None, 0
    for index, key in enumerate(keys):
        boundary = len(rest) == len(key) or not rest[len(key) : len(key) + 1].isalnum()
        if key and len(key) > longest and rest.startswith(key) and boundary:
            found, longest = index, len(key)
    return found


def _letters(
    text: str, patterns: Sequence[re.Pattern[str]], keys: Sequence[str]
) -> tuple[set[int], bool]:
    """Choices named by letter (negated mentions aside), and whether one contradicts itself.

    A letter followed by the text of another choice ("B. <the text of C>") is a
    contradiction: the answer then states two choices.
    """
    found: set[int] = set()
    contradicted = False
    for pattern in patterns:
        for match in pattern.finditer(text):
            group = "p" if "p" in pattern.groupindex and match.group("p") else "v"
            index = LETTERS.find(match.group(group).upper())
            if not 0 <= index < len(keys):
                continue
            start, end = match.span(group)
            if _NEGATED_BEFORE.search(text[:start]) or _NEGATED_AFTER.match(text[end:]):
                continue
            found.add(index)
            named = _text_after(text, end, keys)
            contradicted = contradicted or (named is not None and named != index)
    return found, contradicted


def _by_text(text: str, keys: Sequence[str]) -> set[int]:
    """Choices whose exact text appears (one inside a longer choice's text does not count)."""
    plain = " ".join(text.split()).casefold()
    spans: list[tuple[int, int, int]] = []
    for index, key in enumerate(keys):
        if key:
            pattern = r"(?<!\w)" + re.escape(key) + r"(?!\w)"
            spans += [(m.start(), m.end(), index) for m in re.finditer(pattern, plain)]
    return {
        index
        for start, end, index in spans
        if not any(s <= start and end <= e and (e - s) > (end - start) for s, e, _ in spans)
    }


def read_letter(answer: str, choices: Sequence[str]) -> ChoiceReading:
    """Which lettered choice (A, B, C...) the answer states, or why it cannot be read."""
    text = _plain(answer).strip()
    keys = [_key(choice) for choice in choices]
    for rule, patterns in (("answer statement", _ANSWER_LETTERS), ("letter", _LETTER_RULES)):
        found, contradicted = _letters(text, patterns, keys)
        if contradicted:
            return ChoiceReading(None, "several_choices_stated", "a letter with another's text")
        if len(found) == 1:
            return ChoiceReading(found.pop(), None, rule)
        if found:
            return ChoiceReading(None, "several_choices_stated", "several letters")
    named = _by_text(text, keys)
    if len(named) == 1:
        return ChoiceReading(named.pop(), None, "choice text")
    if named:
        return ChoiceReading(None, "several_choices_stated", "several choices' text")
    return ChoiceReading(None, "no_choice_stated", "no letter or choice text")


def read_choice(answer: str, choices: Sequence[str], yes_no: bool) -> ChoiceReading:
    """The choice an answer states: by the yes/no rules or the lettered-choice rules.

    For a yes/no question the index is that of the choice reading yes or no in `choices`
    (they may be in either order).
    """
    if not yes_no:
        return read_letter(answer, choices)
    reading = read_yes_no(answer)
    if reading.choice is None:
        return reading
    value = ("yes", "no")[reading.choice]
    index = next((i for i, c in enumerate(choices) if c.strip().casefold() == value), None)
    return ChoiceReading(index, None if index is not None else "no_choice_stated", reading.rule)
