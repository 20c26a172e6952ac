"""Benchmark: the release gate's statistics at scale (McNemar, pairing, one compare row).

Times `mcnemar_exact` from 1,000 to 10^7 discordant pairs (and, for reference, the old
big-integer sum of `math.comb` terms up to 8,100), then the statistics of a compare of two
runs with 100,000 paired samples each on seeded synthetic data: `pair_units` on 100k units
per run, and `compare_pairs` for a violation-rate arm (bootstrap CI + McNemar) and for a
knowledge arm (bootstrap CI + Monte Carlo sign flip). Reading the logs is not included.

    .venv/bin/python bench/mcnemar_speed.py [--pairs 100000] [--out FILE]

Targets: McNemar under 10 ms at 10^6 discordant pairs; the 100k compare in seconds.
"""

from __future__ import annotations

import argparse
import json
import math
import os
import platform
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

from harness._util import mcnemar_exact  # noqa: E402
from harness.report._compare import Unit, compare_pairs, pair_units  # noqa: E402

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


def _compare_rows(n_pairs: int) -> dict[str, Any]:
    base, cand = _units(n_pairs, 0.30, 1), _units(n_pairs, 0.32, 2)
    pairing, pair_seconds = _timed(lambda: pair_units(base, cand))
    pairs = [pair for trait in pairing.pairs.values() for pair in trait]
    rate_row, rate_seconds = _timed(lambda: compare_pairs(pairs, "rate"))
    rng = random.Random(3)
    scores = [(rng.randint(0, 5) / 5, rng.randint(0, 7) / 7) for _ in range(n_pairs)]
    score_row, score_seconds = _timed(lambda: compare_pairs(scores, "score"))
    total = pair_seconds + rate_seconds + score_seconds
    return {
        "pairs": n_pairs,
        "pair_units_seconds": pair_seconds,
        "paired": len(pairs),
        "compare_rate_seconds": rate_seconds,
        "rate_row": rate_row,
        "compare_score_seconds": score_seconds,
        "score_row": score_row,
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
        "machine": {
            "cores": os.cpu_count(),
            "python": platform.python_version(),
            "load_before": load_before,
            "load_after": os.getloadavg(),
        },
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
