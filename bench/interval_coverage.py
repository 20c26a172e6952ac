"""Benchmark: coverage of the paired-rate 95% CI, old (percentile bootstrap) vs new (Tango).

For every n in 10..1,000 and every discordant share in 1..30% (new and resolved violations in
the ratio 3:1, so the true difference is half the discordant share, and 1:1, no change), the
coverage of each interval is computed *exactly* over the data: the sum, over every outcome
(new, resolved) of the trinomial distribution of n pairs (outcomes further than 12 standard
deviations out are left out; their probability is below 1e-30), of its probability times
whether that outcome's interval holds the true difference. No Monte Carlo error on the data
side. The old interval, `bootstrap_mean_ci` of the paired differences (2,000 resamples,
percentile), depends on the outcome and its resampling; it is drawn once per outcome from
the multinomial counts of a resample (the same distribution as resampling the n pairs, which
is all a resample of 0/+1/-1 differences is), so its coverage is exact up to that one draw
per outcome. Also recorded: the share of zero-width intervals and the mean width.

A second table checks the new power: for a comparison of 12 rows, the regression rate of the
decision actually taken (Monte Carlo over 4,000 simulated comparisons of one row at Holm's
first-step level alpha / 12) at the minimum detectable effect `rate_plan` reports, under
both rules, with 10% chance discordance: it should be near 80%.

    .venv/bin/python bench/interval_coverage.py [--out FILE]

About half a minute on 2 cores. Results: bench/results/interval_coverage.json; the table is
in bench/README.md.
"""

from __future__ import annotations

import argparse
import json
import math
import os
import sys
import time
from datetime import UTC, datetime
from pathlib import Path
from typing import Any

import numpy as np

BENCH_DIR = Path(__file__).resolve().parent
sys.path.insert(0, str(BENCH_DIR.parent))

from bench._measure import machine  # noqa: E402
from harness._util import margin_p, mcnemar_exact, rate_plan, tango_interval  # noqa: E402

DEFAULT_OUT = BENCH_DIR / "results" / "interval_coverage.json"
SIZES = (10, 30, 100, 300, 1000)
DISCORDANCE = (0.01, 0.03, 0.10, 0.30)
SPLITS = {"3:1": 0.75, "1:1": 0.5}
"""Share of the discordant pairs that are new violations."""
EXTRA = ((30, 0.03, 0.01), (100, 0.03, 0.01))
"""The issue's cases: (n, p_new, p_resolved)."""
RESAMPLES = 2000
CONFIDENCE = 0.95
WINDOW_SD = 12.0
CHUNK = 400
"""Outcomes bootstrapped at once (memory: CHUNK x RESAMPLES x 3 counts)."""
POWER_SIZES = (30, 100, 300, 1000)
POWER_ROWS = 12
POWER_SIMULATIONS = 4000


def _window(n: int, p: float) -> np.ndarray:
    sd = math.sqrt(n * p * (1.0 - p))
    return np.arange(max(0, math.floor(n * p - WINDOW_SD * sd) - 1),
                     min(n, math.ceil(n * p + WINDOW_SD * sd) + 1) + 1)  # fmt: skip


def _outcomes(n: int, p_new: float, p_resolved: float) -> tuple[np.ndarray, ...]:
    """Every likely (new, resolved) outcome of n pairs with its probability."""
    new, resolved = np.meshgrid(_window(n, p_new), _window(n, p_resolved), indexing="ij")
    new, resolved = new.ravel(), resolved.ravel()
    keep = new + resolved <= n
    new, resolved = new[keep], resolved[keep]
    rest = n - new - resolved
    log_fact = np.concatenate(([0.0], np.cumsum(np.log(np.arange(1, n + 1)))))
    log_pmf = (
        log_fact[n] - log_fact[new] - log_fact[resolved] - log_fact[rest]
        + new * math.log(p_new) + resolved * math.log(p_resolved)
        + rest * math.log(1.0 - p_new - p_resolved)
    )  # fmt: skip
    return new, resolved, np.exp(log_pmf)


def _bootstrap(n: int, new: np.ndarray, resolved: np.ndarray, seed: int) -> tuple[np.ndarray, ...]:
    """One percentile bootstrap interval per outcome, as `bootstrap_mean_ci` draws it."""
    rng = np.random.default_rng(seed)
    tail = (1.0 - CONFIDENCE) / 2.0 * 100.0
    lows, highs = [], []
    for start in range(0, len(new), CHUNK):
        b, c = new[start : start + CHUNK], resolved[start : start + CHUNK]
        shares = np.stack([b / n, c / n, (n - b - c) / n], axis=1)[:, None, :]
        counts = rng.multinomial(n, np.broadcast_to(shares, (len(b), RESAMPLES, 3)))
        means = (counts[..., 0] - counts[..., 1]) / n
        low, high = np.percentile(means, [tail, 100.0 - tail], axis=1)
        lows.append(low)
        highs.append(high)
    return np.concatenate(lows), np.concatenate(highs)


def _summary(truth: float, pmf: np.ndarray, low: np.ndarray, high: np.ndarray) -> dict[str, Any]:
    covers = (low <= truth + 1e-12) & (truth - 1e-12 <= high)
    return {
        "coverage": round(float(np.sum(pmf[covers]) / np.sum(pmf)), 4),
        "zero_width": round(float(np.sum(pmf[high - low <= 1e-12]) / np.sum(pmf)), 4),
        "mean_width": round(float(np.sum(pmf * (high - low)) / np.sum(pmf)), 4),
    }


def coverage_cell(n: int, p_new: float, p_resolved: float, seed: int) -> dict[str, Any]:
    """Exact coverage over the data of the old and the new interval at one grid point."""
    new, resolved, pmf = _outcomes(n, p_new, p_resolved)
    truth = p_new - p_resolved
    low, high = tango_interval(new, resolved, n, CONFIDENCE)
    boot_low, boot_high = _bootstrap(n, new, resolved, seed)
    return {
        "n": n,
        "p_new": p_new,
        "p_resolved": p_resolved,
        "discordance": round(p_new + p_resolved, 4),
        "true_difference": round(truth, 4),
        "outcomes": len(pmf),
        "old_bootstrap": _summary(truth, pmf, boot_low, boot_high),
        "new_tango": _summary(truth, pmf, low, high),
    }


def power_check(n: int, rule: str, seed: int) -> dict[str, Any]:
    """The regression rate of simulated single rows at the MDE the plan reports."""
    level = 0.05 / POWER_ROWS
    plan = rate_plan(n, rule, level, 0.05, 0.10, "default")  # type: ignore[arg-type]
    result: dict[str, Any] = {"n": n, "rule": rule, "level": level, "mde": plan.mde}
    if plan.mde is None:
        return result
    rng = np.random.default_rng(seed)
    p_new, p_resolved = 0.05 + plan.mde, 0.05
    draws = rng.multinomial(n, [p_new, p_resolved, 1.0 - p_new - p_resolved], POWER_SIMULATIONS)
    hits = 0
    for new, resolved, _ in draws.tolist():
        if rule == "margin":
            hits += margin_p(new, resolved, n, 0.05) < level / 2
        else:
            hits += mcnemar_exact(new, resolved) < level and new - resolved > 0.05 * n
    result.update(plan_power=0.8, simulated_power=round(hits / POWER_SIMULATIONS, 4),
                  simulations=POWER_SIMULATIONS)  # fmt: skip
    return result


def markdown(cells: list[dict[str, Any]]) -> str:
    """The coverage table (3:1 split and the issue's cases) as Markdown."""
    lines = [
        "| n | new / resolved | true diff. | bootstrap coverage | zero-width | Tango coverage |",
        "|---|---|---|---|---|---|",
    ]
    for cell in cells:
        if cell["p_new"] < 2.9 * cell["p_resolved"]:
            continue
        old, new = cell["old_bootstrap"], cell["new_tango"]
        lines.append(
            f"| {cell['n']} | {100 * cell['p_new']:g}% / {100 * cell['p_resolved']:g}% "
            f"| {100 * cell['true_difference']:+.2g} pp | {100 * old['coverage']:.1f}% "
            f"| {100 * old['zero_width']:.1f}% | {100 * new['coverage']:.1f}% |"
        )
    return "\n".join(lines)


def main() -> None:
    """Run the grid and the power check; write the JSON document and print the table."""
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--out", default=str(DEFAULT_OUT))
    args = parser.parse_args()
    start, load_before = time.perf_counter(), os.getloadavg()
    points = [(n, share * split, share * (1 - split)) for n in SIZES for share in DISCORDANCE
              for split in SPLITS.values()]  # fmt: skip
    cells = [coverage_cell(n, pn, pr, seed) for seed, (n, pn, pr) in enumerate([*points, *EXTRA])]
    powers = [power_check(n, rule, seed) for seed, (n, rule) in
              enumerate((n, r) for n in POWER_SIZES for r in ("margin", "change"))]  # fmt: skip
    old = [c["old_bootstrap"]["coverage"] for c in cells]
    new = [c["new_tango"]["coverage"] for c in cells]
    document = {
        "benchmark": "95% CI of a paired rate difference: exact coverage, bootstrap vs Tango",
        "date": datetime.now(UTC).isoformat(timespec="seconds"),
        "machine": machine(load_before),
        "seconds": round(time.perf_counter() - start, 1),
        "confidence": CONFIDENCE,
        "bootstrap_resamples": RESAMPLES,
        "summary": {
            "old_bootstrap_min": min(old),
            "old_bootstrap_mean": round(sum(old) / len(old), 4),
            "new_tango_min": min(new),
            "new_tango_mean": round(sum(new) / len(new), 4),
            "grid_points": len(cells),
        },
        "cells": cells,
        "power_at_mde": powers,
    }
    out = Path(args.out)
    out.parent.mkdir(parents=True, exist_ok=True)
    out.write_text(json.dumps(document, indent=2) + "\n")
    print(markdown(cells))
    print(json.dumps(document["summary"], indent=2))
    print(json.dumps(powers, indent=2))
    print(f"{document['seconds']} s")


if __name__ == "__main__":
    main()
