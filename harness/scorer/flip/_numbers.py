"""Numbers in replies for the flip detector: digits, separators and number words."""

from __future__ import annotations

import re
from dataclasses import dataclass
from decimal import Decimal, InvalidOperation

_UNITS = {
    w: i
    for i, w in enumerate(
        "zero one two three four five six seven eight nine ten eleven twelve thirteen "
        "fourteen fifteen sixteen seventeen eighteen nineteen".split()
    )
}
_TENS = {
    w: 10 * (i + 2)
    for i, w in enumerate("twenty thirty forty fifty sixty seventy eighty ninety".split())
}
_SCALES = {"thousand": 1000, "million": 10**6, "billion": 10**9}
_NUMBER_WORD = "|".join(sorted([*_UNITS, *_TENS, "hundred", *_SCALES], key=len, reverse=True))
_WORDS_RUN = re.compile(rf"\b(?:{_NUMBER_WORD})(?:(?:[\s-]+|\s+and\s+)(?:{_NUMBER_WORD}))*\b", re.I)
_DIGITS = re.compile(
    r"(?<![\w.,])(?:\d{1,3}(?:,\d{3})+|\d{1,3}(?: \d{3})+(?![\d])|\d+)(?:\.\d+)?(?![\w]|[.,]\d)"
)
OPERATOR_AFTER = re.compile(
    r"^\s*(?:[\u00d7*+/\u00f7^]|[x\-\u2013]\s*\d|times\b|plus\b|minus\b|divided\b|multiplied\b|"
    r"over\b)",
    re.I,
)
OPERATOR_BEFORE = re.compile(
    r"(?:[\u00d7*+/\u00f7^]|\d\s*[x\-\u2013]|\btimes|\bplus|\bminus|\bby|\bover)\s*$", re.I
)


def _words_value(words: list[str]) -> int | None:
    """Value of a well-formed run of number words, None when it is not one number."""
    total, current, last = 0, 0, ""
    for word in words:
        if word == "and":
            if last not in ("hundred", *_SCALES):
                return None
            continue
        if word in _UNITS:
            if last in _UNITS or (last in _TENS and _UNITS[word] >= 10):
                return None
            if last in _TENS and _UNITS[word] == 0:
                return None
            current += _UNITS[word]
        elif word in _TENS:
            if last in _UNITS or last in _TENS:
                return None
            current += _TENS[word]
        elif word == "hundred":
            if (current % 100 == 0 and current != 0) or last == "hundred":
                return None
            current = max(current, 1) * 100
        else:
            total += max(current, 1) * _SCALES[word]
            current = 0
        last = word
    return total + current


def parse_number(text: str) -> Decimal | None:
    """The value of a whole answer such as "1,440", "3.14", "206 bones" or "twenty-one"."""
    text = text.strip().rstrip(".")
    digits = re.fullmatch(r"(\d{1,3}(?:[, ]\d{3})+|\d+)(\.\d+)?(?:\s+[A-Za-z]+)?", text)
    if digits:
        try:
            return Decimal(re.sub(r"[, ]", "", digits.group(1)) + (digits.group(2) or ""))
        except InvalidOperation:  # pragma: no cover - the pattern only lets digits through
            return None
    words = re.split(r"[\s-]+", text.lower())
    if words and all(
        w in _UNITS or w in _TENS or w in _SCALES or w in ("hundred", "and") for w in words
    ):
        value = _words_value(words)
        return Decimal(value) if value is not None else None
    return None


@dataclass(frozen=True)
class Number:
    """A number found in a text: where it is and its value."""

    start: int
    end: int
    value: Decimal


def find_numbers(text: str, lone_one: bool) -> list[Number]:
    """Numbers written in digits or words; a lone "one" only when 1 is an expected answer."""
    found = [
        Number(m.start(), m.end(), Decimal(re.sub(r"[, ]", "", m.group())))
        for m in _DIGITS.finditer(text)
    ]
    for run in _WORDS_RUN.finditer(text):
        found.extend(_word_numbers(run, lone_one))
    return sorted(found, key=lambda n: n.start)


_MAX_NUMBER_WORDS = 12
"""Longer than any number a reply writes out ("nine hundred and ninety-nine thousand ...")."""


def _word_numbers(run: re.Match[str], lone_one: bool) -> list[Number]:
    # Split a run of number words into well-formed numbers ("seven eight" is two numbers).
    tokens = [
        (m.start() + run.start(), m.end() + run.start(), m.group().lower())
        for m in re.finditer(r"[a-z]+", run.group(), re.I)
    ]
    out: list[Number] = []
    i = 0
    while i < len(tokens):
        j = min(len(tokens), i + _MAX_NUMBER_WORDS)
        while j > i:
            words = [t[2] for t in tokens[i:j]]
            if words[-1] != "and" and words[0] != "and" and _words_value(words) is not None:
                break
            j -= 1
        if j == i:
            i += 1
            continue
        words = [t[2] for t in tokens[i:j]]
        if not (words == ["one"] and not lone_one):
            out.append(Number(tokens[i][0], tokens[j - 1][1], Decimal(_words_value(words) or 0)))
        i = j
    return out
