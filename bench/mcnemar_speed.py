"""Benchmark: the release gate's statistics at scale (McNemar, pairing, one compare row).

Times `mcnemar_exact` from 1,000 to 10^7 discordant pairs (and, for reference, the old
big-integer sum of `math.comb` terms up to 8,100), then the statistics of a compare of two
runs with 100,000 paired samples each, per arm, on seeded synthetic data: `pair_units` on
100k multi-turn and 100k knowledge units per run; `compare_pairs` for the violation-rate rows
(four traits: Tango's score CI, exact McNemar, the margin test) and for a knowledge row of
100k pairs (bootstrap CI, Monte Carlo sign flip two-sided and one-sided against the margin);
and `judge_rows` (Holm, the decision, the power of every row). Reading the logs, the two
runs' own reports and the superficial-pattern scan are not included.

    .venv/bin/python bench/mcnemar_speed.py [--pairs 100000] [--out FILE]

Targets: McNemar under 10 ms at 10^6 discordant pairs; the 100k compare in seconds (under
10 s on 2 cores; before the sign flip drew binomial counts per distinct |difference| its
knowledge row alone took 23 s).
"""

from __future__ import annotations

import argparse
import json
import math
import os
import random
import resource
import statistics
import sys
import time
from collections.abc import Callable
from datetime import UTC, datetime
from pathlib import Path
from typing import Any

BENCH_DIR = Path(__file__).resolve().parent
sys.path.insert(0, str(BENCH_DIR.parent))

from bench._measure import machine  # noqa: E402
from harness._util import mcnemar_exact  # noqa: E402
from harness.report._compare import Unit, compare_pairs, judge_rows, pair_units  # noqa: E402

DEFAULT_OUT = BENCH_DIR / "results" / "mcnemar_speed.json"
MCNEMAR_TARGET_MS = 10.0
COMPARE_TARGET_SECONDS = 10.0


def _old_mcnemar(new_events: int, resolved_events: int) -> float:
    """The previous implementation: a big-integer sum of binomial coefficients."""
    n = new_events + resolved_events
    if n == 0:
        return 1.0
    k = min(new_events, resolved_events)
    tail = float(sum(math.comb(n, i) for i in range(k + 1)) / 2**n)
    return min(1.0, 2.0 * tail)


def _best_ms(call: Callable[[], object], repeats: int) -> float:
    """The fastest of `repeats` calls, in milliseconds (least disturbed by other load)."""
    times = []
    for _ in range(repeats):
        start = time.perf_counter()
        call()
        times.append(time.perf_counter() - start)
    return round(min(times) * 1000, 4)


def _mcnemar_rows() -> list[dict[str, Any]]:
    """Near-balanced splits (the slowest case: the tail runs to the middle) and a p near 0.05."""
    rows: list[dict[str, Any]] = []
    for n in (1_000, 8_100, 20_000, 1_000_000, 10_000_000):
        for label, k in (("balanced", n // 2), ("p~0.05", n // 2 - round(0.98 * math.sqrt(n)))):
            p = mcnemar_exact(k, n - k)
            ms = _best_ms(lambda k=k, n=n: mcnemar_exact(k, n - k), 5)
            row: dict[str, Any] = {"discordant": n, "split": label, "smaller": k, "p_value": p,
                                   "ms": ms}  # fmt: skip
            if n <= 8_100:
                row["old_ms"] = _best_ms(lambda k=k, n=n: _old_mcnemar(k, n - k), 1)
                row["old_p_value"] = _old_mcnemar(k, n - k)
            rows.append(row)
    return rows


def _units(n: int, rate: float, seed: int) -> dict[tuple[str, str, str, int], Unit]:
    rng = random.Random(seed)
    return {
        ("pressure", f"s{i // 100}", f"i{i}", 1): Unit(
            f"t{i % 4}", 1, 1, None if rng.random() < 0.01 else float(rng.random() < rate)
        )
        for i in range(n)
    }


def _timed(call: Callable[[], Any]) -> tuple[Any, float]:
    start = time.perf_counter()
    result = call()
    return result, round(time.perf_counter() - start, 3)


def _knowledge_units(n: int, seed: int, denominator: int) -> dict[tuple[str, str, str, int], Unit]:
    rng = random.Random(seed)
    return {
        ("knowledge", f"q{i}", "", 1): Unit(
            "t0", None, 1, rng.randint(0, denominator) / denominator
        )
        for i in range(n)
    }


def _compare_rows(n_pairs: int) -> dict[str, Any]:
    base, cand = _units(n_pairs, 0.30, 1), _units(n_pairs, 0.32, 2)
    known_base, known_cand = _knowledge_units(n_pairs, 3, 5), _knowledge_units(n_pairs, 4, 7)
    pairing, pair_seconds = _timed(lambda: pair_units(base, cand))
    known, known_pair_seconds = _timed(lambda: pair_units(known_base, known_cand))
    rows: list[dict[str, Any]] = []
    rate_seconds = 0.0
    for trait, pairs in sorted(pairing.pairs.items()):
        row, seconds = _timed(lambda pairs=pairs: compare_pairs(pairs, "rate", 0.05))
        rows.append({"trait": trait, "arm": "pressure", **row})
        rate_seconds += seconds
    scores = known.pairs["t0"]
    score_row, score_seconds = _timed(lambda: compare_pairs(scores, "score", 0.0))
    rows.append({"trait": "t0", "arm": "knowledge", **score_row})
    (_, judged), judge_seconds = _timed(lambda: judge_rows(rows))
    total = pair_seconds + known_pair_seconds + rate_seconds + score_seconds + judge_seconds
    return {
        "pairs": n_pairs,
        "pair_units_seconds": round(pair_seconds + known_pair_seconds, 3),
        "paired_rate": sum(len(p) for p in pairing.pairs.values()),
        "paired_knowledge": len(scores),
        "compare_rate_seconds": round(rate_seconds, 3),
        "compare_score_seconds": score_seconds,
        "judge_rows_seconds": judge_seconds,
        "rate_row": judged[0],
        "score_row": judged[-1],
        "total_seconds": round(total, 3),
        "target_seconds": COMPARE_TARGET_SECONDS,
        "meets_target": total < COMPARE_TARGET_SECONDS,
    }


def main() -> None:
    """Run the measurements and write the JSON document."""
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--pairs", type=int, default=100_000)
    parser.add_argument("--out", default=str(DEFAULT_OUT))
    args = parser.parse_args()
    load_before = os.getloadavg()
    mcnemar = _mcnemar_rows()
    at_million = max(r["ms"] for r in mcnemar if r["discordant"] == 1_000_000)
    compare = _compare_rows(args.pairs)
    document = {
        "benchmark": "release-gate statistics: mcnemar_exact and a 100k-pair compare",
        "date": datetime.now(UTC).isoformat(timespec="seconds"),
        "machine": machine(load_before),
        "mcnemar": mcnemar,
        "mcnemar_ms_at_1e6": at_million,
        "mcnemar_target_ms": MCNEMAR_TARGET_MS,
        "mcnemar_meets_target": at_million < MCNEMAR_TARGET_MS,
        "compare": compare,
        "peak_rss_mib": round(resource.getrusage(resource.RUSAGE_SELF).ru_maxrss / 1024, 1),
    }
    out = Path(args.out)
    out.parent.mkdir(parents=True, exist_ok=True)
    out.write_text(json.dumps(document, indent=2) + "\n")
    print(json.dumps({k: v for k, v in document.items() if k != "mcnemar"}, indent=2))
    print(statistics.median(r["ms"] for r in mcnemar), "ms median McNemar")


if __name__ == "__main__":
    main()
