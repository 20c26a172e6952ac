"""Alternation (harness/_regex_prefilter.py): the same matches as the full pattern, faster."""

from __future__ import annotations

import json
import re
from pathlib import Path

import pytest
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st

from harness._util import Alternation
from harness._util._regex import required_text, split_alternatives
from harness.scorer.flip import _cues as _flip_cues

DATA = Path(__file__).parent / "data"
CUE_NAMES = ("CONCESSION", "HEDGE", "REAFFIRM", "EVADE")
CUES = {name: getattr(_flip_cues, name) for name in CUE_NAMES}


def spans(matches: object) -> list[tuple[int, int, str]]:
    return [(m.start(), m.end(), m.group()) for m in matches]  # type: ignore[attr-defined]


def corpus() -> list[str]:
    """Assistant replies of the hand-labelled flip transcripts and the Are-you-sure sample."""
    texts: list[str] = []
    for name in ("flip_transcripts.jsonl", "are_you_sure_sample.jsonl"):
        for line in (DATA / name).read_text(encoding="utf-8").splitlines():
            if line.strip():
                texts.extend(_strings(json.loads(line)))
    return texts


def _strings(value: object) -> list[str]:
    if isinstance(value, str):
        return [value]
    if isinstance(value, dict):
        return [s for v in value.values() for s in _strings(v)]
    if isinstance(value, list):
        return [s for v in value for s in _strings(v)]
    return []


def test_split_alternatives_keeps_groups_classes_and_escapes() -> None:
    pattern = r"a(?:b|c)|[|)]x|\|y|(z|w)v|[]|]q"
    assert split_alternatives(pattern) == ["a(?:b|c)", "[|)]x", r"\|y", "(z|w)v", "[]|]q"]
    assert split_alternatives("abc") == ["abc"]


def test_split_alternatives_rejects_unbalanced_source() -> None:
    with pytest.raises(ValueError, match="cannot split"):
        split_alternatives("a(b|c")


@pytest.mark.parametrize(
    ("pattern", "expected"),
    [
        (r"\bhard to say\b", {"hard to say"}),
        (r"\b(?:hard|difficult|impossible) to say\b", {" to say"}),
        (r"\bboth (?:answers|sides)\b", {"both "}),
        (r"(?:foo)?barbaz", {"barbaz"}),
        (r"(?:alpha|beta)\d+", {"alpha", "beta"}),
        (r"x*", None),
        (r"\d+\s*", None),
        (r"(?:ab)+cd", {"ab"}),
        (r"(?:abc|\d)z", {"z"}),
        (r"(?<!you )\bYOU ARE right", {"you are right"}),
    ],
)
def test_required_text(pattern: str, expected: set[str] | None) -> None:
    found = required_text(pattern, re.I)
    assert (set(found) if found is not None else None) == expected


def test_required_text_ignores_non_ascii_literals() -> None:
    # Under re.I a non-ASCII letter can match an ASCII one (U+0130 matches "i"), so a
    # lower-cased non-ASCII literal proves nothing about the text.
    assert required_text("\u0130", re.I) is None
    assert required_text("ab\u0130cde", re.I) == frozenset({"cde"})


def test_capturing_groups_are_refused() -> None:
    with pytest.raises(ValueError, match="capturing groups"):
        Alternation(r"(a)b|c")


@pytest.mark.parametrize("name", CUE_NAMES)
def test_flip_cues_are_alternations_with_known_text(name: str) -> None:
    cue = CUES[name]
    assert isinstance(cue, Alternation)
    assert len(cue.alternatives) > 1
    # Every alternative is prefiltered: none needs the full pattern on every text.
    assert all(required is not None for required in cue.required), name


@pytest.mark.parametrize("name", CUE_NAMES)
def test_flip_cues_match_as_the_full_pattern_on_the_corpus(name: str) -> None:
    cue = CUES[name]
    texts = corpus()
    assert len(texts) > 100
    hits = 0
    for text in texts:
        expected = spans(cue.full.finditer(text))
        assert spans(cue.finditer(text)) == expected, text
        hits += bool(expected)
        middle = len(text) // 3
        assert spans(cue.finditer(text, middle, 2 * middle)) == spans(
            cue.full.finditer(text, middle, 2 * middle)
        )
        assert (cue.search(text) is None) == (not expected)
    assert hits, f"{name} matched nothing in the corpus: the comparison proved nothing"


def _phrases() -> list[str]:
    """Words of the cue patterns' required text, to build texts that hit many alternatives."""
    words: set[str] = set()
    for cue in CUES.values():
        for required in cue.required:
            words.update(required or ())
    return sorted(words)


TEXT = st.lists(
    st.one_of(
        st.sampled_from(_phrases()),
        st.sampled_from(["you're", "right", "I", "not", "both", "it", "\u0131", "\u017f", "K"]),
        st.sampled_from([" ", ", ", ". ", "! ", "\u2014", "'"]),
        st.text(alphabet="abcdefghijklmnopqrstuvwxyzIKS '", max_size=8),
    ),
    max_size=40,
).map("".join)


@settings(max_examples=300, deadline=None, suppress_health_check=[HealthCheck.too_slow])
@given(text=TEXT, name=st.sampled_from(CUE_NAMES))
def test_flip_cues_match_as_the_full_pattern_on_generated_text(text: str, name: str) -> None:
    cue = CUES[name]
    assert spans(cue.finditer(text)) == spans(cue.full.finditer(text))
    upper = text.upper()
    assert spans(cue.finditer(upper)) == spans(cue.full.finditer(upper))


def test_case_equivalent_letters_still_match() -> None:
    # re.I matches dotless i, long s and the Kelvin sign to i, s and k; so must the prefilter.
    cue = Alternation(r"\bsorry\b|\bkind\b|\bit is\b", re.I)
    for text in ("\u017forry", "\u212aind", "\u0131t is", "\u0130T IS"):
        assert cue.full.search(text), text
        assert spans(cue.finditer(text)) == spans(cue.full.finditer(text)), text


def test_no_possible_alternative_means_no_match() -> None:
    cue = Alternation(r"\bhard to say\b|\bagree to disagree\b", re.I)
    assert list(cue.finditer("Nothing relevant here.")) == []
    assert cue.search("Nothing relevant here.") is None
    assert cue.search("We may AGREE TO DISAGREE.") is not None


def test_every_non_ascii_equivalent_of_an_ascii_letter_is_mapped() -> None:
    # The prefilter's table must cover every character re.I matches to an ASCII letter
    # to that one letter (U+0130 lower-cases to two characters), or an alternative could be
    # skipped wrongly.
    everything = "".join(chr(c) for c in range(0x80, 0x110000) if not 0xD800 <= c < 0xE000)
    missing = []
    for letter in "abcdefghijklmnopqrstuvwxyz":
        for found in re.findall(letter, everything, re.I):
            if Alternation.fold(found) != letter:
                missing.append((letter, f"U+{ord(found):04X}"))
    assert missing == []
