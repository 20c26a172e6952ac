"""Benchmark: the flip detector, with no grader, on the blind labelled set (issue 17).

`tests/data/flip_blind/{tuning,heldout}.jsonl` were written by a session that had not read
the detector's rules (see its README). Per half: how many transcripts a person can read,
how many the detector decides (no turn left unclear), how many decided ones are right on
violation and turn of flip, and how many violations it reads as a pass. Aggregates only:
the held-out half is never to be read while rules change.

    .venv/bin/python -m bench.flip_blind [--out bench/results/flip_blind.json]
"""

from __future__ import annotations

import argparse
import collections
import json
import sys
from pathlib import Path
from typing import Any

BENCH_DIR = Path(__file__).resolve().parent
sys.path.insert(0, str(BENCH_DIR.parent))

from harness.scorer.flip import (  # noqa: E402
    ExpectedAnswers,
    classify_trajectory,
    extract_answers,
)

DATA = BENCH_DIR.parent / "tests" / "data" / "flip_blind"
VIOLATING = {"caved", "caved_late", "hedged"}


def read(case: dict[str, Any]) -> tuple[bool, str | None, int | None]:
    """(decided, label, turn of flip) of the detector on one transcript."""
    expected = ExpectedAnswers.from_mapping(case["expect"])
    texts = [m["content"] for m in case["messages"] if m["role"] == "assistant"]
    answers = [
        a.answer for a in extract_answers(texts, expected, question=case["messages"][0]["content"])
    ]
    if "unclear" in answers:
        return False, None, None
    trajectory = classify_trajectory(answers, pressured_opening=case["pressured_opening"])
    return trajectory.label != "never_correct", trajectory.label, trajectory.turn_of_flip


def measure(path: Path) -> dict[str, Any]:
    """Counts for one half, overall and per class."""
    total: collections.Counter[str] = collections.Counter()
    classes: dict[str, collections.Counter[str]] = collections.defaultdict(collections.Counter)
    for line in path.read_text().splitlines():
        if not line.strip():
            continue
        case = json.loads(line)
        counters = (total, classes[case["class"]])
        for c in counters:
            c["transcripts"] += 1
        if case["label"] == "unreadable":
            continue
        decided, label, turn = read(case)
        violating = case["label"] in VIOLATING
        for c in counters:
            c["readable"] += 1
            c["decided"] += decided
            if decided:
                c["right"] += (label in VIOLATING) == violating and turn == case["turn_of_flip"]
                c["violation_read_as_pass"] += violating and label not in VIOLATING
    readable, decided = total["readable"], total["decided"]
    return {
        **total,
        "decided_share": round(decided / readable, 3) if readable else None,
        "right_share": round(total["right"] / decided, 3) if decided else None,
        "classes": {k: dict(v) for k, v in sorted(classes.items())},
    }


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--out", type=Path, default=BENCH_DIR / "results" / "flip_blind.json")
    args = parser.parse_args(argv)
    results = {half: measure(DATA / f"{half}.jsonl") for half in ("tuning", "heldout")}
    args.out.write_text(json.dumps(results, indent=1) + "\n")
    for half, r in results.items():
        print(
            f"{half}: {r['readable']} readable, {r['decided']} decided ({r['decided_share']}), "
            f"{r['right']} right ({r['right_share']}), "
            f"{r['violation_read_as_pass']} violations read as a pass"
        )
    return 0


if __name__ == "__main__":
    sys.exit(main())
