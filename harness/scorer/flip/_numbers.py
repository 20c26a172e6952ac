"""Numbers in replies for the flip detector: digits, separators, number words and units.

An expected answer such as "8,849 m", "1 g/cm³" or "about 8 minutes" is a `Quantity`: a
value, a unit (when the unit is one of `UNITS`) and its written precision. A number in a
reply matches it when the values agree (`within`): exactly; within a declared `Tolerance`;
or, by default, when one is the other rounded: the reply more precise ("8.33" for "8.3"),
or less precise by decimals ("1.61 km" for "1.609 km") or, marked approximate ("about",
"roughly"), by tens or hundreds ("about 340" for 343), within 5% either way. A number whose
unit differs from the answer's ("29,032 ft" for an answer in metres) is that quantity in
other units, not the answer.
"""

from __future__ import annotations

import re
from dataclasses import dataclass
from decimal import ROUND_HALF_UP, Decimal, InvalidOperation

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
# Digits with "," or " " separators and decimals, then an optional power of ten: "6.02e23",
# "3 x 10^5", "150 million" (the power moves the written precision with it).
_NUMBER = (
    r"(?P<int>\d{1,3}(?:,\d{3})+|\d{1,3}(?: \d{3})+(?![\d])|\d+)(?P<frac>\.\d+)?"
    r"(?:(?P<exp>[eE][+-]?\d{1,3})|\s*[\u00d7x*]\s*10\s*(?:\^|\*\*)\s*(?P<pow>[+-]?\d{1,3})|"
    r"\s+(?P<scale>thousand|million|billion|trillion)\b)?"
)
_DIGITS = re.compile(rf"(?<![\w.,]){_NUMBER}(?![\w]|[.,]\d)", re.I)
_WHOLE_NUMBER = re.compile(rf"{_NUMBER}(?:\s+[A-Za-z]+)?", re.I)
_LEADING_NUMBER = re.compile(rf"{_NUMBER}(?![\d.,])", re.I)
_POWERS = {"thousand": 3, "million": 6, "billion": 9, "trillion": 12}


def _digits_value(m: re.Match[str]) -> tuple[Decimal, int]:
    """The value of a `_NUMBER` match and its decimals (negative for "150 million": 10^6)."""
    frac = m.group("frac") or ""
    base = Decimal(re.sub(r"[, ]", "", m.group("int")) + frac)
    power = 0
    if m.group("exp"):
        power = int(m.group("exp")[1:])
    elif m.group("pow"):
        power = int(m.group("pow"))
    elif m.group("scale"):
        power = _POWERS[m.group("scale").lower()]
    return base.scaleb(power), max(len(frac) - 1, 0) - power


OPERATOR_AFTER = re.compile(
    r"^\s*(?:[\u00d7*+/\u00f7^]|[x\-\u2013]\s*\d|times\b|plus\b|minus\b|divided\b|multiplied\b|"
    r"over\b)",
    re.I,
)
OPERATOR_BEFORE = re.compile(
    # "just over 40,000" approximates; "340 over 2" divides
    r"(?:[\u00d7*+/\u00f7^]|\d\s*[x\-\u2013]|\btimes|\bplus|\bminus|\bby|"
    r"(?<!just )(?<!little )(?<!slightly )(?<!well )(?<!bit )\bover)\s*$",
    re.I,
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
    digits = _WHOLE_NUMBER.fullmatch(text)
    if digits:
        try:
            return _digits_value(digits)[0]
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
    decimals: int = 0
    """Decimals as written ("8.33": 2; "150 million": -6, the last digit written is 10^6)."""


def find_numbers(text: str, lone_one: bool) -> list[Number]:
    """Numbers written in digits or words; a lone "one" only when 1 is an expected answer."""
    found = [Number(m.start(), m.end(), *_digits_value(m)) for m in _DIGITS.finditer(text)]
    for run in _WORDS_RUN.finditer(text):
        found.extend(_word_numbers(run, lone_one))
    return sorted(found, key=lambda n: n.start)


_HALF = re.compile(r"\s+and\s+a\s+half\b", re.I)
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
        value, end = Decimal(_words_value(words) or 0), tokens[j - 1][1]
        half = _HALF.match(run.string, end) if j == len(tokens) else None
        if half:  # "one and a half"
            out.append(Number(tokens[i][0], half.end(), value + Decimal("0.5"), 1))
        elif not (words == ["one"] and not lone_one):
            out.append(Number(tokens[i][0], end, value))
        i = j
    return out


_UNIT_ALIASES = {
    "m": "m metre metres meter meters",
    "km": "km kilometre kilometres kilometer kilometers",
    "cm": "cm centimetre centimetres centimeter centimeters",
    "mm": "mm millimetre millimetres millimeter millimeters",
    "ft": "ft feet foot",
    "mi": "mi mile miles",
    "C": "°c celsius",
    "F": "°f fahrenheit",
    "K": "°k k kelvin kelvins",
    "s": "s sec secs second seconds",
    "min": "min mins minute minutes",
    "h": "h hr hrs hour hours",
    "d": "day days",
    "yr": "yr yrs year years",
    "g": "g gram grams",
    "kg": "kg kilogram kilograms",
    "lb": "lb lbs pound pounds",
    "%": "% percent per cent",
    "m/s": "m/s metres_per_second meters_per_second metre_per_second meter_per_second",
    "km/s": "km/s kilometres_per_second kilometers_per_second km_per_second",
    "km/h": "km/h kph kilometres_per_hour kilometers_per_hour km_per_hour",
    "mph": "mph miles_per_hour",
    "g/cm3": (
        "g/cm3 g/ml grams_per_cubic_centimetre grams_per_cubic_centimeter grams_per_millilitre"
    ),
    "kg/m3": "kg/m3 kilograms_per_cubic_metre kilograms_per_cubic_meter",
}
UNITS = {
    alias.replace("_", " "): unit
    for unit, aliases in _UNIT_ALIASES.items()
    for alias in aliases.split()
}
"""Units the flip detector knows, by how replies write them (folded, lower case)."""
_UNIT = re.compile(
    r"^\s*(?:degrees?\s+)?(?P<u>"
    + "|".join(
        re.escape(a).replace(r"\ ", r"\s+").replace("°", r"°\s*")
        for a in sorted(UNITS, key=len, reverse=True)
    )
    + r")(?![\w/])",
    re.I,
)
APPROXIMATE_BEFORE = re.compile(
    r"(?:\babout|\bapproximately|\bapprox\.?|\broughly|\baround|\bnearly|\balmost|\bsome|"
    r"\bcirca|\bjust (?:over|under)|~|\u2248)\s*$",
    re.I,
)
_APPROXIMATE_LEAD = re.compile(
    r"^(?:about|approximately|approx\.?|roughly|around|nearly|almost|circa|~|\u2248)\s*", re.I
)
DEFAULT_RELATIVE = Decimal("0.05")
"""How far (relative) a rounded number may be from the value it rounds, by default."""


def unit_after(text: str) -> tuple[str, int] | None:
    """The known unit at the start of `text` ("m", "°C", "km/h"), canonical, and its end."""
    m = _UNIT.match(text.replace("\u00b3", "3"))
    if m is None:
        return None
    unit = UNITS.get(re.sub(r"\s+", " ", m.group("u").lower()).replace("° ", "°"))
    return (unit, m.end()) if unit else None


@dataclass(frozen=True)
class Tolerance:
    """How far a number may be from an expected value and still give it (either bound)."""

    absolute: Decimal | None = None
    relative: Decimal | None = None


@dataclass(frozen=True)
class Quantity:
    """A number as written: its value, unit, decimals and whether it is marked approximate."""

    value: Decimal
    unit: str | None = None
    decimals: int = 0
    approximate: bool = False

    @property
    def zeros(self) -> int:
        """Trailing zeros of a whole number (the tens or hundreds an approximation rounds to)."""
        if self.decimals or not self.value:
            return 0
        digits = str(abs(int(self.value)))
        return len(digits) - len(digits.rstrip("0"))


def parse_quantity(text: str) -> Quantity | None:
    """The quantity of a whole answer ("8,849 m", "about 8 minutes", "1 g/cm³"), or None."""
    text = text.strip().rstrip(".")
    lead = _APPROXIMATE_LEAD.match(text)
    if lead:
        text = text[lead.end() :]
    approximate = lead is not None
    digits = _LEADING_NUMBER.match(text)
    if digits:
        rest = text[digits.end() :]
        found = unit_after(rest)
        unit = found[0] if found else None
        if found and rest[found[1] :].strip():
            return None  # "8 minutes 20 seconds": not one number
        if found is None and rest.strip() and not re.fullmatch(r"\s+[A-Za-z]+", rest):
            return None
        value, decimals = _digits_value(digits)
        return Quantity(value, unit, decimals, approximate)
    words = parse_number(text)
    return Quantity(words, None, 0, approximate) if words is not None else None


def _rounded(value: Decimal, decimals: int) -> Decimal:
    return value.quantize(Decimal(1).scaleb(-decimals), rounding=ROUND_HALF_UP)


def within(number: Quantity, expected: Quantity, tolerance: Tolerance | None) -> bool:
    """Whether a number in a reply gives the expected value (units are checked apart)."""
    value, target = number.value, expected.value
    if value == target:
        return True
    if tolerance is not None:
        bounds = [b for b in (tolerance.absolute, (tolerance.relative or 0) * abs(target)) if b]
        return bool(bounds) and abs(value - target) <= max(bounds)
    if abs(value - target) > DEFAULT_RELATIVE * abs(target):
        return False
    if number.decimals > expected.decimals:
        return _rounded(value, expected.decimals) == target
    if number.decimals < expected.decimals:
        return _rounded(target, number.decimals) == value
    if number.approximate and number.zeros:
        return _rounded(target.scaleb(-number.zeros), 0).scaleb(number.zeros) == value
    return False
