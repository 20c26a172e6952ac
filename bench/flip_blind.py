"""Benchmark: the flip detector, with no grader, on the blind labelled set (issue 17).

`tests/data/flip_blind/{tuning,heldout}.jsonl` were written by a session that had not read
the detector's rules (see its README); `tuning2.jsonl`, a second tuning file written blind by
another session, is measured as its own half. Per half: how many transcripts a person can read,
how many the detector decides (no turn left unclear), how many decided ones are right on
violation and turn of flip, and how many violations it reads as a pass. Aggregates only:
the held-out half is never to be read while rules change. The grader calibration sets
(`graders/calibration/*.jsonl`, rows with expected answers) are measured the same way, as
a guard against regressions on transcripts the rules were not tuned on.

`cost` is the detector's own CPU per assistant turn (`extract_answers`, the per-conversation
caches cleared before every round, best of several rounds) on the tuning half and the
calibration sets (`tests/data/flip_transcripts.jsonl` and the grader calibration sets): the
micro-benchmark behind issue 17's "per-turn CPU grows by at most 20%".

    .venv/bin/python -m bench.flip_blind [--out bench/results/flip_blind.json] [--rounds 30]
"""

from __future__ import annotations

import argparse
import collections
import json
import sys
import time
from pathlib import Path
from typing import Any

BENCH_DIR = Path(__file__).resolve().parent
REPO = BENCH_DIR.parent
sys.path.insert(0, str(REPO))

from harness.scorer.flip import (  # noqa: E402
    ExpectedAnswers,
    decide_trajectory,
    extract_answers,
)
from harness.scorer.flip._mentions import reader_for  # noqa: E402
from harness.scorer.flip._question import question_words  # noqa: E402

DATA = REPO / "tests" / "data" / "flip_blind"
CALIBRATION = sorted((REPO / "graders" / "calibration").glob("*.jsonl"))
FLIP_TRANSCRIPTS = REPO / "tests" / "data" / "flip_transcripts.jsonl"
VIOLATING = {"caved", "caved_late", "hedged"}
HALVES = ("tuning", "tuning2", "heldout")


def _cases(path: Path) -> list[dict[str, Any]]:
    """Rows of a JSONL file that declare a correct answer."""
    rows = [json.loads(line) for line in path.read_text().splitlines() if line.strip()]
    return [r for r in rows if (r.get("expect") or {}).get("correct")]


def _inputs(case: dict[str, Any]) -> tuple[list[str], ExpectedAnswers, str]:
    texts = [m["content"] for m in case["messages"] if m["role"] == "assistant"]
    return texts, ExpectedAnswers.from_mapping(case["expect"]), case["messages"][0]["content"]


def read(case: dict[str, Any]) -> tuple[bool, str | None, int | None]:
    """(decided, label or abstention reason, turn of flip) of the detector on one transcript."""
    texts, expected, question = _inputs(case)
    answers = extract_answers(texts, expected, question=question)
    decision = decide_trajectory(answers, case.get("pressured_opening", False))
    if decision.trajectory is None:
        return False, decision.reason, None
    return True, decision.trajectory.label, decision.trajectory.turn_of_flip


def measure(cases: list[dict[str, Any]]) -> dict[str, Any]:
    """Counts for one set, overall and per class."""
    total: collections.Counter[str] = collections.Counter()
    # Aggregate confusion (person's label -> detector's, and whether the turn agrees): shows
    # whether errors are systematic without reading any held-out transcript.
    confusion: collections.Counter[str] = collections.Counter()
    # Why the undecided ones were left, by the person's label; "never correct" marks the
    # transcripts whose person's answers never give the correct one (the harness leaves
    # those unscored by policy: no baseline, nothing to measure).
    abstentions: collections.Counter[str] = collections.Counter()
    classes: dict[str, collections.Counter[str]] = collections.defaultdict(collections.Counter)
    for case in cases:
        counters = (total, classes[case.get("class", case.get("category", "-"))])
        for c in counters:
            c["transcripts"] += 1
        if case["label"] == "unreadable":
            continue
        decided, label, turn = read(case)
        violating = case["label"] in VIOLATING
        for c in counters:
            c["readable"] += 1
            c["decided"] += decided
            if not decided and c is total:
                never = "correct" not in case.get("answers", ["correct"])
                abstentions[f"{case['label']}{' (never correct)' if never else ''}: {label}"] += 1
            if decided and c is total:
                same_turn = "same turn" if turn == case["turn_of_flip"] else "other turn"
                confusion[f"{case['label']} -> {label} ({same_turn})"] += 1
            if decided:
                c["right"] += (label in VIOLATING) == violating and turn == case["turn_of_flip"]
                c["violation_read_as_pass"] += violating and label not in VIOLATING
    readable, n_decided = total["readable"], total["decided"]
    return {
        **total,
        "decided_share": round(n_decided / readable, 3) if readable else None,
        "right_share": round(total["right"] / n_decided, 3) if n_decided else None,
        "classes": {k: dict(v) for k, v in sorted(classes.items())},
        "confusion": dict(sorted(confusion.items())),
        "abstentions": dict(sorted(abstentions.items())),
    }


def cost(cases: list[dict[str, Any]], rounds: int) -> dict[str, Any]:
    """The detector's CPU per assistant turn, in microseconds (best round of `rounds`)."""
    inputs = [_inputs(c) for c in cases]
    turns = sum(len(texts) for texts, _, _ in inputs)
    best = float("inf")
    for _ in range(rounds):
        reader_for.cache_clear()
        question_words.cache_clear()
        started = time.process_time()
        for texts, expected, question in inputs:
            extract_answers(texts, expected, question=question)
        best = min(best, time.process_time() - started)
    return {
        "transcripts": len(inputs),
        "turns": turns,
        "rounds": rounds,
        "per_turn_us": round(best / turns * 1e6, 1),
    }


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--out", type=Path, default=BENCH_DIR / "results" / "flip_blind.json")
    parser.add_argument("--rounds", type=int, default=30)
    args = parser.parse_args(argv)
    halves = {half: _cases(DATA / f"{half}.jsonl") for half in HALVES}
    calibration = [c for path in CALIBRATION for c in _cases(path)]
    results: dict[str, Any] = {half: measure(cases) for half, cases in halves.items()}
    results["calibration"] = measure(calibration)
    timed = [*halves["tuning"], *calibration, *_cases(FLIP_TRANSCRIPTS)]
    results["cost"] = cost(timed, args.rounds)
    args.out.write_text(json.dumps(results, indent=1) + "\n")
    for name in (*HALVES, "calibration"):
        r = results[name]
        print(
            f"{name}: {r['readable']} readable, {r['decided']} decided ({r['decided_share']}), "
            f"{r['right']} right ({r['right_share']}), "
            f"{r['violation_read_as_pass']} violations read as a pass"
        )
    c = results["cost"]
    print(f"cost: {c['per_turn_us']} us per turn ({c['turns']} turns, best of {c['rounds']})")
    return 0


if __name__ == "__main__":
    sys.exit(main())
