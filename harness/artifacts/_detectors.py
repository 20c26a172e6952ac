"""Superficial-pattern detectors declared as data (`graders/artifacts/*.yaml`).

A detector is one YAML file: where in an assistant message to look (its *scope*),
regular expressions, and a few declarative rules (`any_of` / `all_of` / `none_of`,
`min_matches` / `max_matches`, word-count `buckets`). Adding a detector needs no code.
Files are validated strictly; every problem is reported as `file:line: field.path: message`,
including a detector's own `examples` that it fails to classify.
"""

from __future__ import annotations

import re
from collections.abc import Iterable
from functools import cached_property
from pathlib import Path
from typing import Annotated, Literal

from pydantic import AfterValidator, BaseModel, ConfigDict, Field, model_validator

from harness._util import Problem, ValidationFailed, display_path, dotted, graders_dir, load_model

DetectorKind = Literal["opening", "closing", "anywhere", "format", "length"]
Scope = Literal[
    "first_sentence",
    "last_sentence",
    "first_paragraph",
    "last_paragraph",
    "first_chars",
    "last_chars",
    "whole",
]
RegexFlag = Literal["ignorecase", "multiline", "dotall"]

_FLAGS: dict[str, re.RegexFlag] = {
    "ignorecase": re.IGNORECASE,
    "multiline": re.MULTILINE,
    "dotall": re.DOTALL,
}
_OPENING_SCOPES = frozenset({"first_sentence", "first_paragraph", "first_chars"})
_CLOSING_SCOPES = frozenset({"last_sentence", "last_paragraph", "last_chars"})
# Closing quotes and brackets (\u201d, \u2019: curly quotes) may follow a sentence's end.
_SENTENCE_END = re.compile(r"[.!?…]+[\"'\u201d\u2019)\]]*(?=\s|$)|\n")
_SENTENCE_SPLIT = re.compile(r"(?<=[.!?…])[\"'\u201d\u2019)\]]*\s+")
_PARAGRAPH_SPLIT = re.compile(r"\n[ \t]*\n")
_HAS_LETTER = re.compile(r"[^\W\d_]")
_CHAR_ESCAPE = re.compile(r"\\[uUxN0-7]")
_SCOPE_CAP = 600
"""Longest first/last sentence or paragraph looked at, in characters."""


def _with_letter(parts: Iterable[str]) -> list[str]:
    return [p.strip() for p in parts if _HAS_LETTER.search(p)]


def first_sentence(text: str) -> str:
    """The message's first sentence (up to a `.`, `!`, `?` or `…` ending a word, or a line break).

    Abbreviations such as "Dr." end it early, which is harmless for openings.
    """
    head = text.lstrip()[:_SCOPE_CAP]
    match = _SENTENCE_END.search(head)
    return head[: match.end()].strip() if match else head.strip()


def last_sentence(text: str) -> str:
    """The last sentence with a letter in it (a trailing emoji or signature line is skipped)."""
    lines = _with_letter(text[-_SCOPE_CAP * 2 :].splitlines())
    if not lines:
        return ""
    sentences = _with_letter(_SENTENCE_SPLIT.split(lines[-1]))
    return sentences[-1][-_SCOPE_CAP:] if sentences else ""


def first_paragraph(text: str) -> str:
    """The first paragraph (text before the first blank line) that has a letter in it."""
    paragraphs = _with_letter(_PARAGRAPH_SPLIT.split(text[: _SCOPE_CAP * 4]))
    return paragraphs[0][:_SCOPE_CAP] if paragraphs else ""


def last_paragraph(text: str) -> str:
    """The last paragraph (text after the last blank line) that has a letter in it."""
    paragraphs = _with_letter(_PARAGRAPH_SPLIT.split(text[-_SCOPE_CAP * 4 :]))
    return paragraphs[-1][-_SCOPE_CAP:] if paragraphs else ""


def word_count(text: str) -> int:
    """Whitespace-separated words."""
    return len(text.split())


class LengthBucket(BaseModel):
    """One word-count range of a `length` detector; a message falls in at most one bucket."""

    model_config = ConfigDict(extra="forbid")

    name: str = Field(pattern=r"^[a-z][a-z0-9_]*$")
    """Bucket name; the pattern is reported as `<detector>:<bucket>` (e.g. `length:long`)."""
    min_words: int = Field(default=0, ge=0)
    """Smallest word count in the bucket (inclusive)."""
    max_words: int | None = Field(default=None, ge=0)
    """Largest word count in the bucket (inclusive); omit for no upper bound."""

    @model_validator(mode="after")
    def _ordered(self) -> LengthBucket:
        if self.max_words is not None and self.max_words < self.min_words:
            raise ValueError("max_words must be at least min_words")
        return self

    def holds(self, words: int) -> bool:
        """Whether a message of this many words is in the bucket."""
        return words >= self.min_words and (self.max_words is None or words <= self.max_words)


class DetectorExamples(BaseModel):
    """Texts the detector must (`match`) and must not (`no_match`) flag; checked on load."""

    model_config = ConfigDict(extra="forbid")

    match: list[str] = Field(default_factory=list)
    """Whole assistant messages that exhibit the pattern."""
    no_match: list[str] = Field(default_factory=list)
    """Whole assistant messages that do not (near misses are the useful ones)."""


def _compile(source: str, flags: int) -> re.Pattern[str]:
    try:
        return re.compile(source, flags)
    except re.error as exc:
        raise ValueError(f"invalid regular expression: {exc}") from None


def _valid_regex(source: str) -> str:
    _compile(source, 0)
    # Expressions are joined into one alternation, where inline global flags are errors.
    try:
        re.compile(f"(?:{source})")
    except re.error:
        raise ValueError(
            "inline global flags such as (?i) are not allowed here: use the detector's flags"
        ) from None
    return source


Regex = Annotated[str, AfterValidator(_valid_regex)]
"""A Python `re` expression, checked when the file is loaded."""


class Detector(BaseModel):
    """A per-message superficial-pattern detector, declared in `graders/artifacts/<name>.yaml`.

    A message exhibits the pattern when, inside the detector's scope, at least
    `min_matches` (and at most `max_matches`) non-overlapping matches of the `any_of`
    expressions are found, every `all_of` expression matches, and no `none_of` expression
    does. A `length` detector instead puts each message in one of its word-count `buckets`.
    """

    model_config = ConfigDict(extra="forbid")

    name: str = Field(pattern=r"^[a-z][a-z0-9_]*$")
    """Pattern name used in tables, JSON and `--drop`; must equal the file name's stem."""
    description: str = Field(min_length=1)
    """What counts as this pattern and what does not (shown in reports and the README)."""
    kind: DetectorKind
    """`opening` / `closing` (start / end of the message), `anywhere`, `format` (markdown,
    emoji) or `length` (word-count buckets)."""
    scope: Scope = "whole"
    """Which part of the message the expressions see: the first or last sentence or
    paragraph, the first or last `chars` characters, or the whole message."""
    chars: int | None = Field(default=None, ge=1)
    """Number of characters for `first_chars` / `last_chars` (default 200)."""
    flags: list[RegexFlag] = Field(default_factory=lambda: list[RegexFlag](["ignorecase"]))
    """Regex flags for every expression of this detector."""
    any_of: list[Regex] = Field(default_factory=list)
    """Expressions counted towards `min_matches` (Python `re` syntax)."""
    all_of: list[Regex] = Field(default_factory=list)
    """Expressions that must all match somewhere in the scope."""
    none_of: list[Regex] = Field(default_factory=list)
    """Exclusions: when any of these matches in the scope, the message does not count."""
    requires_any: list[str] = Field(default_factory=list)
    """Speed hint: lowercase fragments, one of which every match contains (e.g. "sorry");
    a message whose scope has none is skipped before the expressions run. It must not
    change results; the `match` examples are checked through it."""
    min_matches: int = Field(default=1, ge=1)
    """Fewest non-overlapping `any_of` matches needed (e.g. 2 for "hedges at least twice")."""
    max_matches: int | None = Field(default=None, ge=1)
    """Most `any_of` matches allowed; omit for no limit."""
    buckets: list[LengthBucket] = Field(default_factory=list)
    """`length` detectors only: the word-count buckets, in ascending, non-overlapping order."""
    flag_by_prevalence: bool = True
    """Whether prevalence alone (>= the threshold) flags this pattern. Length buckets share
    every message between them, so they are flagged only against a baseline."""
    examples: DetectorExamples = Field(default_factory=DetectorExamples)
    """Self-test cases, checked whenever the detector is loaded."""

    @model_validator(mode="after")
    def _consistent(self) -> Detector:
        if self.kind == "length":
            if not self.buckets:
                raise ValueError("a length detector needs buckets")
            if self.any_of or self.all_of or self.none_of or self.requires_any:
                raise ValueError("a length detector takes buckets, not expressions")
            names = [b.name for b in self.buckets]
            if len(set(names)) != len(names):
                raise ValueError("bucket names must be unique")
            for low, high in zip(self.buckets, self.buckets[1:], strict=False):
                if low.max_words is None or high.min_words <= low.max_words:
                    raise ValueError(
                        f"buckets must be ascending and not overlap ('{low.name}', '{high.name}')"
                    )
            return self
        if self.buckets:
            raise ValueError("buckets are only for kind: length")
        if any(not f or f != f.lower() for f in self.requires_any):
            raise ValueError("requires_any fragments must be non-empty and lowercase")
        if not self.any_of and not self.all_of:
            raise ValueError("give at least one expression in any_of or all_of")
        if self.chars is not None and self.scope not in ("first_chars", "last_chars"):
            raise ValueError("chars applies only to scope first_chars or last_chars")
        if self.kind == "opening" and self.scope not in _OPENING_SCOPES:
            raise ValueError(f"an opening detector needs a first_* scope, not '{self.scope}'")
        if self.kind == "closing" and self.scope not in _CLOSING_SCOPES:
            raise ValueError(f"a closing detector needs a last_* scope, not '{self.scope}'")
        if self.max_matches is not None and self.max_matches < self.min_matches:
            raise ValueError("max_matches must be at least min_matches")
        if self.min_matches > 1 and not self.any_of:
            raise ValueError("min_matches counts any_of matches: give any_of")
        return self

    @cached_property
    def _lowercase(self) -> bool:
        # Case-insensitive expressions without uppercase letters (so no \W, \S, \B escapes)
        # and without character escapes (\u0041 is "A") run case-sensitively on lowercased
        # text: the same matches, several times faster in Python's re than IGNORECASE.
        sources = [*self.any_of, *self.all_of, *self.none_of]
        return "ignorecase" in self.flags and all(
            s == s.lower() and not _CHAR_ESCAPE.search(s) for s in sources
        )

    @cached_property
    def _flags(self) -> int:
        value = 0
        for flag in self.flags:
            if not (flag == "ignorecase" and self._lowercase):
                value |= _FLAGS[flag]
        return value

    @cached_property
    def _any(self) -> re.Pattern[str] | None:
        # One alternation is one pass over the text instead of one per expression.
        if not self.any_of:
            return None
        return _compile("|".join(f"(?:{s})" for s in self.any_of), self._flags)

    @cached_property
    def _all(self) -> list[re.Pattern[str]]:
        return [_compile(s, self._flags) for s in self.all_of]

    @cached_property
    def _none(self) -> list[re.Pattern[str]]:
        return [_compile(s, self._flags) for s in self.none_of]

    def pattern_names(self) -> list[str]:
        """The patterns this detector reports: its name, or `name:bucket` per length bucket."""
        if self.kind == "length":
            return [f"{self.name}:{b.name}" for b in self.buckets]
        return [self.name]

    def region(self, text: str) -> str:
        """The part of `text` this detector looks at."""
        if self.scope == "whole":
            return text
        if self.scope == "first_chars":
            return text.lstrip()[: self.chars or 200]
        if self.scope == "last_chars":
            return text.rstrip()[-(self.chars or 200) :]
        return _SCOPES[self.scope](text)

    def find(
        self, text: str, cache: dict[tuple[str, int | None, bool], str] | None = None
    ) -> str | None:
        """The pattern this message exhibits (None if none), judged on the detector's scope.

        Returns the detector's name, or `name:bucket` for a length detector. `cache` (one
        dict per message) shares scope regions and their lowercase between detectors.
        """
        if self.kind == "length":
            words = word_count(text)
            for bucket in self.buckets:
                if bucket.holds(words):
                    return f"{self.name}:{bucket.name}"
            return None
        cache = {} if cache is None else cache
        if self.requires_any:
            lowered = self._region(text, cache, lower=True)
            if not any(fragment in lowered for fragment in self.requires_any):
                return None
        subject = self._region(text, cache, lower=self._lowercase)
        return self.name if self._match(subject) is not None else None

    def _region(
        self, text: str, cache: dict[tuple[str, int | None, bool], str], lower: bool
    ) -> str:
        key = (self.scope, self.chars, lower)
        region = cache.get(key)
        if region is None:
            plain = cache.get((self.scope, self.chars, False))
            if plain is None:
                plain = cache[(self.scope, self.chars, False)] = self.region(text)
            region = cache[key] = plain.lower() if lower else plain
        return region

    def evidence(self, region: str) -> str | None:
        """The first matched span of a region (as written) when the rules hold, else None."""
        if self.requires_any and not any(f in region.lower() for f in self.requires_any):
            return None
        subject = region.lower() if self._lowercase else region
        span = self._match(subject)
        if span is None:
            return None
        start, end = span
        # str.lower() keeps lengths for all but a few characters (e.g. "İ").
        text = region if len(subject) == len(region) else subject
        return text[start:end] if end > start else region[:80]

    def _match(self, subject: str) -> tuple[int, int] | None:
        """Span of the first match when the detector's rules hold on `subject`, else None."""
        first: tuple[int, int] | None = None
        if self._any is not None:
            count = 0
            limit = self.max_matches
            for match in self._any.finditer(subject):
                count += 1
                if first is None:
                    first = match.span()
                if count >= self.min_matches and limit is None:
                    break
                if limit is not None and count > limit:
                    return None
            if count < self.min_matches:
                return None
        for pattern in self._all:
            found = pattern.search(subject)
            if found is None:
                return None
            if first is None:
                first = found.span()
        if any(pattern.search(subject) for pattern in self._none):
            return None
        return first if first is not None else (0, 0)


_SCOPES = {
    "first_sentence": first_sentence,
    "last_sentence": last_sentence,
    "first_paragraph": first_paragraph,
    "last_paragraph": last_paragraph,
}


def default_detectors_dir() -> Path:
    """The bundled detector files, `graders/artifacts/`."""
    return graders_dir() / "artifacts"


def _check_examples(
    detector: Detector, file: str, line_of: dict[tuple[str | int, ...], int]
) -> list[Problem]:
    problems: list[Problem] = []
    for field, expected in (("match", True), ("no_match", False)):
        for index, text in enumerate(getattr(detector.examples, field)):
            if (detector.find(text) is not None) != expected:
                loc = ("examples", field, index)
                verdict = "is not detected" if expected else "is detected"
                line = line_of.get(loc) or line_of.get(("examples", field)) or 1
                problems.append(
                    Problem(file, line, dotted(loc), f"example {verdict}: {text[:60]!r}")
                )
    return problems


def load_detector_file(path: Path, problems: list[Problem]) -> Detector | None:
    """Load and self-test one detector file; append problems and return None when invalid."""
    loaded = load_model(path, Detector, problems)
    if loaded is None:
        return None
    detector, source = loaded
    file = display_path(path)
    found: list[Problem] = []
    if detector.name != path.stem:
        found.append(
            Problem(
                file, source.line_of(("name",)), "name", f"must match the file name '{path.stem}'"
            )
        )
    found.extend(_check_examples(detector, file, source.lines))
    problems.extend(found)
    return None if found else detector


def load_detectors(directory: Path | None = None) -> list[Detector]:
    """Every detector in a folder (default: the bundled `graders/artifacts/`), sorted by name.

    Raises:
        ValidationFailed: with every problem of every file, or when the folder has none.

    """
    directory = directory or default_detectors_dir()
    problems: list[Problem] = []
    if not directory.is_dir():
        raise ValidationFailed([Problem(display_path(directory), 1, "", "no such folder")])
    paths = sorted(p for p in directory.iterdir() if p.suffix in (".yaml", ".yml"))
    if not paths:
        raise ValidationFailed(
            [Problem(display_path(directory), 1, "", "no detector files (*.yaml) in this folder")]
        )
    detectors = [d for d in (load_detector_file(p, problems) for p in paths) if d is not None]
    if problems:
        raise ValidationFailed(problems)
    return sorted(detectors, key=lambda d: d.name)


def check_detectors(graders: Path | None = None) -> tuple[int, list[Problem]]:
    """Validate the `artifacts/` folder of a graders folder, if it has one (`harness validate`).

    Returns the number of valid detectors and every problem found.
    """
    folder = (graders or graders_dir()) / "artifacts"
    if not folder.is_dir():
        return 0, []
    try:
        return len(load_detectors(folder)), []
    except ValidationFailed as exc:
        return 0, exc.problems
