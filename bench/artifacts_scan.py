"""Benchmark: `harness artifacts` (read + scan + discover + cluster + flag) on 100k messages.

Generates a seeded SFT chat dataset (JSONL, 2 assistant turns per record, varied length
and markdown, superficial patterns planted at known rates) in a temporary folder, runs the
real command on it in a subprocess and records wall time, messages per second, peak RSS
and CPU time of the command (CPU time is what other load on a shared machine changes least)
and the machine (cores, load average before and after).

    .venv/bin/python bench/artifacts_scan.py [--messages 100000] [--out FILE]

Target: well under a minute on 2 cores. See bench/README.md.
"""

from __future__ import annotations

import argparse
import json
import os
import platform
import random
import resource
import subprocess
import sys
import tempfile
import time
from datetime import UTC, datetime
from pathlib import Path
from typing import Any

BENCH_DIR = Path(__file__).resolve().parent
DEFAULT_OUT = BENCH_DIR / "results" / "artifacts_scan.json"
HARNESS = Path(sys.executable).parent / "harness"
TARGET_SECONDS = 60.0

NOUNS = ["the cache", "a queue", "the index", "this loop", "the budget", "our schedule",
         "the river", "the parser", "a recipe", "the engine", "the garden", "the report",
         "each request", "the museum", "a contract", "the kernel", "the harbour",
         "a sensor"]  # fmt: skip
VERBS = ["stores", "delays", "improves", "replaces", "checks", "reduces", "explains",
         "follows", "protects", "measures", "connects", "updates", "shapes", "limits"]  # fmt: skip
TAILS = ["every morning", "within a week", "under heavy load", "after the update",
         "for most users", "in cold weather", "without extra cost", "at the end of the day",
         "on the second pass", "before the deadline", "in the long run", "by design"]  # fmt: skip
PLANTS = {
    "open": (0.55, ["Great question!", "Bottom line: it works.", "That sounds really frustrating.",
                    "Short answer: yes.", "I'm so sorry you're going through this."]),
    "close": (0.3, ["Would you like me to go deeper on any part?",
                    "Let me know if you'd like an example.",
                    "Could you tell me which version you use?"]),
}  # fmt: skip


def _sentence(rng: random.Random) -> str:
    text = f"{rng.choice(NOUNS)} {rng.choice(VERBS)} {rng.choice(NOUNS)} {rng.choice(TAILS)}"
    return text[0].upper() + text[1:] + "."


def _reply(rng: random.Random) -> str:
    paragraphs = [
        " ".join(_sentence(rng) for _ in range(rng.randint(2, 6))) for _ in range(rng.randint(1, 4))
    ]
    if rng.random() < 0.3:
        paragraphs.insert(1, "\n".join(f"- **{rng.choice(NOUNS)}**: {_sentence(rng)}"
                                       for _ in range(rng.randint(2, 5))))  # fmt: skip
    for slot, (rate, options) in PLANTS.items():
        if rng.random() < rate:
            if slot == "open":
                paragraphs[0] = rng.choice(options) + " " + paragraphs[0]
            else:
                paragraphs.append(rng.choice(options))
    if rng.random() < 0.05:
        paragraphs[-1] += " 🙂"
    return "\n\n".join(paragraphs)


def generate(path: Path, messages: int, seed: int = 0) -> int:
    """Write a JSONL chat dataset with `messages` assistant turns (2 per record)."""
    rng = random.Random(seed)
    with path.open("w", encoding="utf-8") as handle:
        for index in range(0, messages, 2):
            turns = []
            for _ in range(min(2, messages - index)):
                turns.append({"role": "user", "content": _sentence(rng)})
                turns.append({"role": "assistant", "content": _reply(rng)})
            handle.write(json.dumps({"id": f"r{index // 2}", "messages": turns}) + "\n")
    return path.stat().st_size


def run(messages: int, seed: int) -> dict[str, Any]:
    with tempfile.TemporaryDirectory() as folder:
        data = Path(folder) / "chats.jsonl"
        started = time.perf_counter()
        size = generate(data, messages, seed)
        generated = time.perf_counter() - started
        out = Path(folder) / "artifacts.json"
        load_before = os.getloadavg()
        started = time.perf_counter()
        result = subprocess.run(
            [str(HARNESS), "artifacts", str(data), "--json", str(out)],
            capture_output=True,
            text=True,
            check=False,
        )
        seconds = time.perf_counter() - started
        load_after = os.getloadavg()
        if result.returncode != 0:
            raise SystemExit(f"harness artifacts failed ({result.returncode}):\n{result.stderr}")
        document = json.loads(out.read_text())
    usage = resource.getrusage(resource.RUSAGE_CHILDREN)
    peak_kib = usage.ru_maxrss  # KiB on Linux
    flagged = [p["name"] for p in document["patterns"] if p["flagged"]]
    return {
        "benchmark": "harness artifacts on a JSONL chat dataset (read + scan + cluster + flags)",
        "date": datetime.now(UTC).isoformat(timespec="seconds"),
        "messages": document["n_messages"],
        "records": messages // 2,
        "dataset_bytes": size,
        "seconds": round(seconds, 2),
        "messages_per_second": round(document["n_messages"] / seconds),
        "cpu_seconds": round(usage.ru_utime + usage.ru_stime, 2),
        "peak_rss_mib": round(peak_kib / 1024, 1),
        "generation_seconds": round(generated, 2),
        "target_seconds": TARGET_SECONDS,
        "meets_target": seconds < TARGET_SECONDS,
        "patterns": len(document["patterns"]),
        "flagged": flagged,
        "machine": {
            "cores": os.cpu_count(),
            "platform": platform.platform(),
            "python": platform.python_version(),
            "load_average_before": [round(x, 2) for x in load_before],
            "load_average_after": [round(x, 2) for x in load_after],
            "under_load": load_before[0] > (os.cpu_count() or 1) * 0.5,
        },
        "command": "harness artifacts chats.jsonl --json artifacts.json",
        "seed": seed,
    }


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--messages", type=int, default=100_000)
    parser.add_argument("--seed", type=int, default=0)
    parser.add_argument("--out", default=str(DEFAULT_OUT))
    args = parser.parse_args()
    result = run(args.messages, args.seed)
    out = Path(args.out)
    out.parent.mkdir(parents=True, exist_ok=True)
    out.write_text(json.dumps(result, indent=2, ensure_ascii=False) + "\n")
    print(json.dumps(result, indent=2, ensure_ascii=False))


if __name__ == "__main__":
    main()
