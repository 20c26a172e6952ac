"""The superficial-pattern detectors as an Inspect Scout scanner (`scout scan harness/artifacts`).

`harness artifacts` is the entry point of the pipeline (and the only one for SFT
datasets); this scanner lets the same detectors run wherever Scout runs: over any eval
logs with `scout scan`, or on a live run through `inspect_scout.as_scorer`. Matching is
the detectors' own (`scan_messages`, `Detector.evidence`): no expression is repeated here.

Per transcript it returns one `Result` per pattern (a detector, or a `length:<bucket>`):
value = assistant messages exhibiting it, metadata = the share and the number of
assistant messages, references = the matching messages. Assistant messages without text
(tool calls only) are not counted, as in `harness artifacts`.
"""

from __future__ import annotations

from collections.abc import Sequence
from pathlib import Path

from inspect_ai.model import ChatMessage
from inspect_scout import Reference, Result, Scanner, Transcript, scanner

from harness.artifacts._detectors import Detector, load_detectors
from harness.artifacts._scan import scan_messages, snippet

EXCERPT_CHARS = 120
"""Longest excerpt of one matching message in a result's explanation."""
MAX_CITED = 5
"""Matching messages quoted in an explanation (all of them are referenced)."""


def _names(value: str | Sequence[str] | None) -> list[str]:
    """Detector names from `-S detectors=a,b` (a string, or a list once parsed as YAML)."""
    if value is None:
        return []
    parts = value.split(",") if isinstance(value, str) else [str(v) for v in value]
    return [p.strip() for p in parts if p.strip()]


def select_detectors(
    detectors: str | Sequence[str] | None = None, folder: str | None = None
) -> list[Detector]:
    """The detectors of a folder (default: bundled), or only those named.

    Raises:
        ValidationFailed: invalid detector files (with file:line).
        ValueError: a name that is no detector of the folder.

    """
    loaded = load_detectors(Path(folder) if folder else None)
    wanted = _names(detectors)
    if not wanted:
        return loaded
    by_name = {d.name: d for d in loaded}
    unknown = [name for name in wanted if name not in by_name]
    if unknown:
        raise ValueError(
            f"unknown detector(s) {', '.join(unknown)}; available: {', '.join(sorted(by_name))}"
        )
    return [by_name[name] for name in dict.fromkeys(wanted)]


def _excerpt(detector: Detector, text: str) -> str:
    """What a matching message shows in the explanation: the match with some context."""
    if detector.kind == "length":
        return f"({len(text.split())} words) " + snippet(text, "whole", EXCERPT_CHARS)
    region = detector.region(text)
    match = detector.evidence(region) or ""
    start = max(0, region.find(match) - 30) if match else 0
    return snippet(region[start:], "whole", EXCERPT_CHARS)


def _result(
    name: str,
    detector: Detector,
    rows: list[int],
    messages: Sequence[ChatMessage],
    cites: list[int],
    n_messages: int,
) -> Result:
    share = len(rows) / n_messages if n_messages else None
    references = [
        Reference(type="message", cite=f"[M{cites[i]}]", id=messages[i].id or "") for i in rows
    ]
    if rows:
        quoted = [f'[M{cites[i]}] "{_excerpt(detector, messages[i].text)}"' for i in rows]
        more = len(quoted) - MAX_CITED
        explanation = (
            f"{len(rows)} of {n_messages} assistant messages ({100 * (share or 0):.0f}%): "
            + "; ".join(quoted[:MAX_CITED])
            + (f"; and {more} more" if more > 0 else "")
        )
    else:
        explanation = f"0 of {n_messages} assistant messages"
    return Result(
        value=len(rows),
        label=name,
        explanation=explanation,
        references=references,
        metadata={
            "pattern": name,
            "kind": detector.kind,
            "share": share,
            "n_messages": n_messages,
        },
    )


@scanner(messages=["assistant"], metadata=False)
def artifacts(
    detectors: str | list[str] | None = None, folder: str | None = None
) -> Scanner[Transcript]:
    """Superficial-pattern detectors of `graders/artifacts/`, one result per pattern.

    Args:
        detectors: Detector names to run (a comma-separated string or a list; default all).
        folder: Folder of detector files (default: the bundled `graders/artifacts/`).

    """
    chosen = select_detectors(detectors, folder)
    owners = [(name, d) for d in chosen for name in d.pattern_names()]

    async def scan(transcript: Transcript) -> list[Result]:
        # Cite numbers are positions in the messages the scanner was given, as Scout's own
        # scanners number them; messages without text are skipped, not counted.
        kept = [
            (number, m)
            for number, m in enumerate(transcript.messages, start=1)
            if m.role == "assistant" and m.text.strip()
        ]
        messages = [m for _, m in kept]
        cites = [number for number, _ in kept]
        found = scan_messages([m.text for m in messages], chosen)
        return [
            _result(
                name,
                detector,
                [int(i) for i in found.column(name).nonzero()[0]],
                messages,
                cites,
                len(messages),
            )
            for name, detector in owners
        ]

    return scan
