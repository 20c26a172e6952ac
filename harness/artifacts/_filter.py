"""Write an SFT dataset without the records whose assistant turns exhibit chosen patterns.

Dropping is per record (one JSONL line): a record goes when any of its assistant messages
exhibits any chosen pattern. Every kept line is copied byte for byte. The written file is
then read and scanned again, so the prevalence reported "after" is measured, not assumed.
"""

from __future__ import annotations

import os
from collections.abc import Sequence
from dataclasses import dataclass
from pathlib import Path

import numpy as np

from harness._util import display_path
from harness.artifacts._analyse import Analysis
from harness.artifacts._scan import (
    BoolArray,
    Phrase,
    PhraseKind,
    ScanResult,
    normalise_words,
    phrase_index,
    scan_messages,
)
from harness.artifacts._sources import read_sources


class FilterError(Exception):
    """Filtering cannot be done as asked (unknown pattern, eval-log source, output = input)."""


@dataclass(frozen=True)
class PrevalenceChange:
    """One pattern's prevalence in the dataset before and after filtering."""

    name: str
    dropped: bool
    """Whether it was one of the patterns asked to drop."""
    before: int
    n_before: int
    after: int
    n_after: int

    @staticmethod
    def share(count: int, n: int) -> float | None:
        """The share count / n, or None when n is 0."""
        return count / n if n else None

    def as_dict(self) -> dict[str, object]:
        """JSON-ready form."""
        return {
            "name": self.name,
            "dropped": self.dropped,
            "count_before": self.before,
            "prevalence_before": self.share(self.before, self.n_before),
            "count_after": self.after,
            "prevalence_after": self.share(self.after, self.n_after),
        }


@dataclass(frozen=True)
class FilterResult:
    """What `write_filtered` did."""

    out: Path
    records_before: int
    records_after: int
    messages_before: int
    messages_after: int
    changes: list[PrevalenceChange]

    def as_dict(self) -> dict[str, object]:
        """JSON-ready form."""
        return {
            "out": str(self.out),
            "records_before": self.records_before,
            "records_after": self.records_after,
            "records_dropped": self.records_before - self.records_after,
            "messages_before": self.messages_before,
            "messages_after": self.messages_after,
            "patterns": [c.as_dict() for c in self.changes],
        }


def _literal_phrase(name: str) -> tuple[PhraseKind, list[tuple[str, ...]]] | None:
    kind, _, text = name.partition(":")
    words = tuple(normalise_words(text))
    if kind in ("opening", "closing") and words:
        return ("opening" if kind == "opening" else "closing"), [words]
    return None


def _phrase_hits(scan: ScanResult, kind: PhraseKind, members: list[tuple[str, ...]]) -> BoolArray:
    words = scan.openings if kind == "opening" else scan.closings
    phrases = [Phrase(kind, m, 0) for m in members]
    hits: BoolArray = phrase_index(words, phrases, [0] * len(phrases)) == 0
    return hits


def pattern_hits(analysis: Analysis, scan: ScanResult, name: str) -> BoolArray:
    """Which messages of `scan` exhibit a pattern named as in the report.

    A name not in the report may be `opening:<words>` / `closing:<words>`: messages whose
    normalised first (last) words are those.

    Raises:
        FilterError: for an unknown name.

    """
    if name in scan.pattern_names:
        return scan.column(name)
    phrase = analysis.phrases.get(name) or _literal_phrase(name)
    if phrase is None:
        known = ", ".join(sorted({n.split(":")[0] for n in scan.pattern_names}))
        raise FilterError(
            f"unknown pattern '{name}': use a detector ({known}), a length bucket such as "
            "length:long, or opening:<words> / closing:<words>"
        )
    return _phrase_hits(scan, *phrase)


def write_filtered(
    analysis: Analysis, sources: Sequence[Path], drop: Sequence[str], out: Path
) -> FilterResult:
    """Write `out` without the records that exhibit any pattern in `drop`.

    `sources` are the JSONL datasets the analysis read, in the same order; their kept
    lines are concatenated into `out` unchanged.

    Raises:
        FilterError: unknown pattern, a source that is not a JSONL dataset, or `out` being
            one of the sources.

    """
    if not drop:
        raise FilterError("--write-filtered needs at least one --drop PATTERN")
    by_display = {display_path(p): p for p in sources}
    for info in analysis.corpus.sources:
        if info.kind != "jsonl":
            raise FilterError(
                f"{info.path}: --write-filtered works on JSONL datasets only, not eval logs"
            )
    if any(out.resolve() == p.resolve() for p in sources):
        raise FilterError(f"{out}: the filtered dataset must not overwrite a source")
    mask = np.zeros(analysis.scan.n_messages, dtype=np.bool_)
    for name in drop:
        mask |= pattern_hits(analysis, analysis.scan, name)
    dropped_lines: dict[str, set[int]] = {}
    for row in np.flatnonzero(mask):
        message = analysis.corpus.messages[int(row)]
        dropped_lines.setdefault(message.source, set()).add(message.line)
    out.parent.mkdir(parents=True, exist_ok=True)
    partial = out.with_name(out.name + ".partial")
    with partial.open("wb") as handle:
        for info in analysis.corpus.sources:
            skip = dropped_lines.get(info.path, set())
            last = b"\n"
            with by_display[info.path].open("rb") as source:
                for number, raw in enumerate(source, start=1):
                    if number in skip:
                        continue
                    if not last.endswith(b"\n"):
                        handle.write(b"\n")  # a file without a final newline, then another
                    handle.write(raw)
                    last = raw
            if not last.endswith(b"\n"):
                handle.write(b"\n")
    os.replace(partial, out)

    after = read_sources([out])
    after_scan = scan_messages(after.messages, analysis.detectors)
    flagged = [r.name for r in analysis.report.patterns if r.flagged and r.name not in drop]
    changes = [
        PrevalenceChange(
            name=name,
            dropped=name in drop,
            before=int(pattern_hits(analysis, analysis.scan, name).sum()),
            n_before=analysis.scan.n_messages,
            after=int(pattern_hits(analysis, after_scan, name).sum()),
            n_after=after_scan.n_messages,
        )
        for name in [*drop, *flagged]
    ]
    return FilterResult(
        out=out,
        records_before=sum(info.records for info in analysis.corpus.sources),
        records_after=sum(info.records for info in after.sources),
        messages_before=analysis.scan.n_messages,
        messages_after=after_scan.n_messages,
        changes=changes,
    )
