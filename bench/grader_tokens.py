"""Benchmark: grader input tokens per conversation versus the transcript's own tokens.

The grader judges every assistant turn of a conversation in one call, seeing the
numbered transcript once. This measures what that costs: for each conversation,
the tokens of the rendered grader prompt over the tokens of the user and assistant
messages. Tokens are counted with the embedded model's vocabulary (SmolLM2-135M's
GGUF through llama.cpp's `/tokenize`), offline.

    .venv/bin/python bench/grader_tokens.py [--logs DIR] [--out FILE]

See bench/README.md for what is measured and the latest numbers.
"""

from __future__ import annotations

import argparse
import hashlib
import json
import os
import platform
import random
import statistics
import sys
import urllib.request
from collections.abc import Sequence
from dataclasses import dataclass
from datetime import UTC, datetime
from importlib.metadata import version
from pathlib import Path
from typing import Any, Literal

import numpy as np
from inspect_ai.log import list_eval_logs, read_eval_log

from harness._util import graders_dir
from harness.model import EmbeddedServer, locate_model
from harness.scenario import (
    Catalogue,
    Rubric,
    Turn,
    find_grader_template,
    grader_variables,
    load_catalogue,
    number_turns,
    render_grader,
    render_grader_prefix,
)
from harness.scorer import RubricSet
from harness.task import build_samples

BENCH_DIR = Path(__file__).resolve().parent
DEFAULT_OUT = BENCH_DIR / "results" / "grader_tokens.json"
REPLIES_FILE = BENCH_DIR / "data" / "replies.jsonl"
CALIBRATION_DIR = graders_dir() / "calibration"

THRESHOLD = 1.3
"""The requirement: grader input tokens within 1.3x the transcript's tokens."""
SYNTHETIC_MAX_TURNS = (2, 4, 6)
SYNTHETIC_ITEMS_PER_SCENARIO = 2
DEFAULT_TRAIT = "sycophancy"
EMBEDDED_MODEL = "smollm2"
HEADLINE_SOURCES = ("synthetic", "logs")
"""Sources whose pooled aggregate ratio is the headline `grader_token_ratio`: conversations as
the harness produces them (bundled scenarios; real runs when `--logs` is given). The
calibration transcripts are short hand-written fixtures, reported but not in the headline."""

Source = Literal["calibration", "logs", "synthetic"]


@dataclass(frozen=True)
class Conversation:
    """One conversation as the grader would see it."""

    source: Source
    id: str
    trait: str
    scenario: dict[str, Any]
    expect: dict[str, str | None] | None
    turns: list[Turn]

    @property
    def n_assistant(self) -> int:
        return sum(t.role == "assistant" for t in self.turns)


# --- tokenizer -------------------------------------------------------------------------------


class Tokenizer:
    """Counts tokens with the embedded GGUF's vocabulary via a private llama.cpp server.

    Use as a context manager: the server is started on enter and stopped (by pid) on exit.
    """

    def __init__(self, model: str = EMBEDDED_MODEL) -> None:
        self.model_path = locate_model(model)
        self.server = EmbeddedServer(
            self.model_path, model, n_ctx=2048, n_parallel=1, threads=os.cpu_count() or 2
        )
        self._cache: dict[str, int] = {}

    def __enter__(self) -> Tokenizer:
        self.server.start()
        return self

    def __exit__(self, *exc: object) -> None:
        self.server.stop()

    def count(self, text: str) -> int:
        """Number of tokens in `text` (no BOS/EOS added)."""
        if text not in self._cache:
            request = urllib.request.Request(
                f"http://127.0.0.1:{self.server.port}/tokenize",
                data=json.dumps({"content": text, "add_special": False}).encode(),
                headers={"Content-Type": "application/json"},
            )
            with urllib.request.urlopen(request, timeout=60) as response:
                self._cache[text] = len(json.load(response)["tokens"])
        return self._cache[text]

    def describe(self) -> dict[str, Any]:
        """What was used to count, for the results file."""
        digest = hashlib.sha256()
        with open(self.model_path, "rb") as handle:
            for block in iter(lambda: handle.read(1 << 20), b""):
                digest.update(block)
        return {
            "name": f"{self.model_path.name} vocabulary via llama.cpp POST /tokenize",
            "model": EMBEDDED_MODEL,
            "gguf": self.model_path.name,
            "gguf_sha256": digest.hexdigest(),
            "xllamacpp": version("xllamacpp"),
            "special_tokens": False,
        }


# --- conversation sources --------------------------------------------------------------------


def _message_text(content: Any) -> str:
    """Text of a JSON chat message's content: a string or a list of content parts."""
    if isinstance(content, str):
        return content
    if isinstance(content, list):
        return "\n".join(
            str(part.get("text", "")) if isinstance(part, dict) else str(part) for part in content
        )
    return ""


def _scenario_of(value: Any, fallback_id: str, catalogue: Catalogue) -> dict[str, Any]:
    """Grader `scenario` variable from a calibration line's `scenario` (dict, id or description)."""
    if isinstance(value, dict):
        return {"id": value.get("id", fallback_id), "description": value.get("description", "")}
    descriptions = {s.scenario.id: s.scenario.description for s in catalogue.scenarios}
    text = str(value or "")
    if text in descriptions:
        return {"id": text, "description": descriptions[text]}
    return {"id": fallback_id, "description": text}


def calibration_conversations(folder: Path, catalogue: Catalogue) -> list[Conversation]:
    """Every transcript in `folder/*.jsonl` (`messages`, `scenario`, optional `expect`)."""
    conversations: list[Conversation] = []
    for path in sorted(folder.glob("*.jsonl")) if folder.is_dir() else []:
        for number, raw in enumerate(path.read_text(encoding="utf-8").splitlines(), start=1):
            if not raw.strip():
                continue
            line = json.loads(raw)
            conv_id = str(line.get("id", f"{path.stem}:{number}"))
            scenario = _scenario_of(line.get("scenario"), conv_id, catalogue)
            scenario_id = str(scenario.get("id") or "")
            trait = line.get("trait") or (
                scenario_id.split("/")[0] if "/" in scenario_id else DEFAULT_TRAIT
            )
            turns = number_turns(
                (str(m.get("role")), _message_text(m.get("content"))) for m in line["messages"]
            )
            conversations.append(
                Conversation("calibration", conv_id, trait, scenario, line.get("expect"), turns)
            )
    return conversations


def log_conversations(log_dir: Path) -> list[Conversation]:
    """Every sample of every inspect log under `log_dir`, numbered as the scorer numbers them."""
    conversations: list[Conversation] = []
    for info in list_eval_logs(str(log_dir)):
        log = read_eval_log(info, resolve_attachments=True)
        for sample in log.samples or []:
            metadata = sample.metadata or {}
            scenario_id = str(metadata.get("scenario_id") or sample.id)
            conversations.append(
                Conversation(
                    "logs",
                    f"{Path(info.name).name}:{sample.id}:{sample.epoch}",
                    str(metadata.get("trait") or DEFAULT_TRAIT),
                    {"id": scenario_id, "description": metadata.get("scenario_description", "")},
                    metadata.get("expect"),
                    number_turns((m.role, m.text) for m in sample.messages),
                )
            )
    return conversations


def load_replies(path: Path = REPLIES_FILE) -> dict[str, list[str]]:
    """The pool of assistant replies by kind (`answer`, `review`, `advice`)."""
    pool: dict[str, list[str]] = {}
    for raw in path.read_text(encoding="utf-8").splitlines():
        if raw.strip():
            reply = json.loads(raw)
            words = len(reply["text"].split())
            if not 40 <= words <= 250:
                raise ValueError(f"reply {reply['id']} has {words} words; the pool is 40-250")
            pool.setdefault(reply["kind"], []).append(reply["text"])
    return pool


def _reply_kind(expect: dict[str, str | None] | None, tags: Sequence[str]) -> str:
    if expect and expect.get("correct"):
        # A question with a right answer: replies name it (or cave to the wrong one).
        return "answer"
    return "advice" if "advice" in tags else "review"


def synthetic_conversations(
    catalogue: Catalogue, replies: dict[str, list[str]]
) -> list[Conversation]:
    """The bundled scenarios' openings and ladders, with pooled replies, at each max_turns.

    When a ladder is shorter than the turn budget its rungs are reused from the
    start, so every conversation has exactly max_turns assistant turns.
    """
    conversations: list[Conversation] = []
    for sample in build_samples(catalogue, items_per_scenario=SYNTHETIC_ITEMS_PER_SCENARIO):
        metadata = sample.metadata or {}
        assert not isinstance(sample.input, str)
        openings = [m.text for m in sample.input if m.role == "user"]
        ladder = [rung["text"] for rung in metadata["ladder"]] or openings
        expect = metadata.get("expect")
        pool = replies[_reply_kind(expect, metadata.get("tags", []))]
        for max_turns in SYNTHETIC_MAX_TURNS:
            # A string seed is hashed deterministically, so the same replies every run.
            rng = random.Random(f"{sample.id}|{max_turns}")
            users = [*openings, *(ladder[i % len(ladder)] for i in range(max_turns))][:max_turns]
            messages: list[tuple[str, str]] = []
            for user_text in users:
                reply = rng.choice(pool)
                for key, value in (expect or {}).items():
                    reply = reply.replace("{" + key + "}", str(value or ""))
                messages += [("user", user_text), ("assistant", reply)]
            conversations.append(
                Conversation(
                    "synthetic",
                    f"{sample.id}|max_turns={max_turns}",
                    str(metadata["trait"]),
                    {
                        "id": metadata["scenario_id"],
                        "description": metadata["scenario_description"],
                    },
                    expect,
                    number_turns(messages),
                )
            )
    return conversations


# --- measurement and summary -----------------------------------------------------------------


def measure(conv: Conversation, rubrics: RubricSet, tokenizer: Tokenizer) -> dict[str, Any]:
    """Transcript tokens, grader-input tokens and their ratios for one conversation.

    The grader's prompt starts with a part rendered from the rubric only (the same for
    every conversation of a trait, so prefix caching in vLLM, llama.cpp, OpenAI and
    Anthropic processes it once) followed by the per-conversation part. `grader_tokens`
    counts both; `conversation_tokens` only the per-conversation part.
    """
    rubric = rubrics.get(conv.trait)
    prefix = render_grader_prefix(rubric, rubrics.folder)
    prompt = render_grader(
        rubric, grader_variables(rubric, conv.scenario, conv.turns, conv.expect), rubrics.folder
    )
    transcript_tokens = sum(tokenizer.count(t.text) for t in conv.turns)
    prefix_tokens = tokenizer.count(prefix)
    conversation_tokens = tokenizer.count(prompt)
    grader_tokens = prefix_tokens + conversation_tokens
    return {
        "source": conv.source,
        "id": conv.id,
        "trait": conv.trait,
        "assistant_turns": conv.n_assistant,
        "transcript_tokens": transcript_tokens,
        "prefix_tokens": prefix_tokens,
        "conversation_tokens": conversation_tokens,
        "grader_tokens": grader_tokens,
        "ratio": grader_tokens / transcript_tokens if transcript_tokens else None,
        "conversation_ratio": (
            conversation_tokens / transcript_tokens if transcript_tokens else None
        ),
    }


def summarise(rows: Sequence[dict[str, Any]], key: str = "grader_tokens") -> dict[str, Any]:
    """Count, ratio statistics, aggregate ratio, mean overhead and share within the threshold.

    `key` is `grader_tokens` (all grader input) or `conversation_tokens` (without the
    shared, cacheable rubric prefix).
    """
    rows = [r for r in rows if r["transcript_tokens"]]
    if not rows:
        return {"count": 0}
    ratios = [r[key] / r["transcript_tokens"] for r in rows]
    transcript_sum = sum(r["transcript_tokens"] for r in rows)
    grader_sum = sum(r[key] for r in rows)
    return {
        "count": len(rows),
        "mean_ratio": statistics.fmean(ratios),
        "median_ratio": statistics.median(ratios),
        "max_ratio": max(ratios),
        "aggregate_ratio": grader_sum / transcript_sum,
        "mean_overhead_tokens": statistics.fmean(r[key] - r["transcript_tokens"] for r in rows),
        "mean_transcript_tokens": transcript_sum / len(rows),
        "mean_grader_tokens": grader_sum / len(rows),
        "share_within_threshold": sum(x <= THRESHOLD for x in ratios) / len(rows),
    }


def fit_overhead(rows: Sequence[dict[str, Any]], key: str = "grader_tokens") -> dict[str, Any]:
    """Least squares: grader = fixed + per_turn * assistant_turns + per_token * transcript.

    Splits the overhead into a part paid once per conversation and a part paid per
    assistant turn (turn labels, one JSON entry per turn in the reply format).
    """
    if len(rows) < 3:
        return {}
    x = np.array([[1.0, r["assistant_turns"], r["transcript_tokens"]] for r in rows])
    y = np.array([float(r[key]) for r in rows])
    (fixed, per_turn, per_token), *_ = np.linalg.lstsq(x, y, rcond=None)
    # Transcript length at which the fitted ratio falls to the threshold, per turn count.
    break_even = {
        str(n): float((fixed + per_turn * n) / (THRESHOLD - per_token))
        for n in SYNTHETIC_MAX_TURNS
        if per_token < THRESHOLD
    }
    return {
        "model": f"{key} ~ fixed + per_assistant_turn * turns + per_token * transcript",
        "fixed_tokens": float(fixed),
        "per_assistant_turn_tokens": float(per_turn),
        "per_transcript_token": float(per_token),
        "max_abs_residual_tokens": float(np.max(np.abs(x @ [fixed, per_turn, per_token] - y))),
        "transcript_tokens_for_threshold_by_assistant_turns": break_even,
    }


def rubric_tokens(rubric: Rubric, tokenizer: Tokenizer) -> dict[str, int]:
    """Tokens of each rubric text the template includes: usually most of the fixed overhead."""
    fields = ("description", "violation", "not_violation", "severity")
    return {name: tokenizer.count(str(getattr(rubric, name))) for name in fields}


def report(rows: Sequence[dict[str, Any]], key: str = "grader_tokens") -> dict[str, Any]:
    """Summaries per source, per number of assistant turns, and pooled."""
    sources: dict[str, Any] = {}
    for source in dict.fromkeys(r["source"] for r in rows):
        mine = [r for r in rows if r["source"] == source]
        by_turns = {
            str(n): summarise([r for r in mine if r["assistant_turns"] == n], key)
            for n in sorted({r["assistant_turns"] for r in mine})
        }
        sources[source] = {"all": summarise(mine, key), "by_assistant_turns": by_turns}
    headline = [r for r in rows if r["source"] in HEADLINE_SOURCES]
    return {
        "sources": sources,
        "headline": summarise(headline, key),
        "fit": fit_overhead(headline, key),
    }


def print_table(summary: dict[str, Any]) -> None:
    """A small plain-text table of the summaries."""
    header = (
        f"{'source':<22}{'turns':>6}{'n':>5}{'mean':>8}{'median':>8}{'max':>8}"
        f"{'aggr':>8}{'overhead':>10}{'<=1.3x':>8}"
    )
    print(header)
    print("-" * len(header))

    def line(name: str, turns: str, s: dict[str, Any]) -> None:
        if not s.get("count"):
            print(f"{name:<22}{turns:>6}{0:>5}")
            return
        print(
            f"{name:<22}{turns:>6}{s['count']:>5}{s['mean_ratio']:>8.3f}{s['median_ratio']:>8.3f}"
            f"{s['max_ratio']:>8.3f}{s['aggregate_ratio']:>8.3f}"
            f"{s['mean_overhead_tokens']:>10.1f}{s['share_within_threshold']:>8.0%}"
        )

    for source, data in summary["sources"].items():
        for turns, s in data["by_assistant_turns"].items():
            line(source, turns, s)
        line(source, "all", data["all"])
    line("+".join(HEADLINE_SOURCES), "all", summary["headline"])
    fit = summary["fit"]
    if fit:
        print(
            f"\nfit: tokens ≈ {fit['fixed_tokens']:.0f} + {fit['per_assistant_turn_tokens']:.1f}"
            f" * assistant turns + {fit['per_transcript_token']:.3f} * transcript tokens"
        )
        needed = fit["transcript_tokens_for_threshold_by_assistant_turns"]
        print(
            f"transcript tokens needed for <= {THRESHOLD}x: "
            + ", ".join(f"{turns} turns: {tokens:.0f}" for turns, tokens in needed.items())
        )


# --- main ------------------------------------------------------------------------------------


def _file_sha256(path: Path) -> str:
    return hashlib.sha256(path.read_bytes()).hexdigest()


def _shown(path: Path) -> str:
    """A path relative to the repository when it is inside it."""
    try:
        return str(path.resolve().relative_to(BENCH_DIR.parent))
    except ValueError:
        return str(path)


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("--logs", type=Path, help="also measure every sample of inspect logs here")
    parser.add_argument("--out", type=Path, default=DEFAULT_OUT, help="results JSON file")
    args = parser.parse_args(argv)

    catalogue = load_catalogue()
    rubrics = RubricSet(graders_dir())
    conversations = [
        *calibration_conversations(CALIBRATION_DIR, catalogue),
        *(log_conversations(args.logs) if args.logs else []),
        *synthetic_conversations(catalogue, load_replies()),
    ]
    # The scorer never calls the grader without an assistant turn; neither do we.
    skipped = [c.id for c in conversations if c.n_assistant == 0]
    conversations = [c for c in conversations if c.n_assistant > 0]

    with Tokenizer() as tokenizer:
        rows = [measure(c, rubrics, tokenizer) for c in conversations]
        traits = sorted({c.trait for c in conversations})
        rubric_text_tokens = {t: rubric_tokens(rubrics.get(t), tokenizer) for t in traits}
        tokenizer_info = tokenizer.describe()

    summary = report(rows)
    per_conversation = report(rows, "conversation_tokens")
    print("All grader input (shared rubric prefix + per-conversation part):")
    print_table(summary)
    print("\nPer-conversation grader input (the shared rubric prefix cached):")
    print_table(per_conversation)
    templates = {
        _shown(path): _file_sha256(path)
        for path in sorted(
            {
                find_grader_template(name)
                for t in traits
                for name in (rubrics.get(t).prefix_template, rubrics.get(t).template)
            }
        )
    }
    result = {
        "benchmark": "grader_tokens",
        "grader_token_ratio": summary["headline"].get("aggregate_ratio"),
        "grader_token_ratio_per_conversation": per_conversation["headline"].get("aggregate_ratio"),
        "threshold": THRESHOLD,
        "within_threshold": (summary["headline"].get("aggregate_ratio") or 0) <= THRESHOLD,
        "per_conversation_within_threshold": (
            per_conversation["headline"].get("aggregate_ratio") or 0
        )
        <= THRESHOLD,
        "date": datetime.now(UTC).isoformat(timespec="seconds"),
        "machine": {
            "platform": platform.platform(),
            "machine": platform.machine(),
            "python": platform.python_version(),
            "cpu_count": os.cpu_count(),
        },
        "versions": {"harness": version("harness"), "inspect_ai": version("inspect_ai")},
        "template_sha256": next(iter(templates.values()), None),
        "templates": templates,
        "rubrics": {
            t: {"version": rubrics.get(t).version, "text_tokens": rubric_text_tokens[t]}
            for t in traits
        },
        "tokenizer": tokenizer_info,
        "inputs": {
            "calibration_dir": _shown(CALIBRATION_DIR),
            "logs_dir": str(args.logs) if args.logs else None,
            "synthetic": {
                "max_turns": list(SYNTHETIC_MAX_TURNS),
                "items_per_scenario": SYNTHETIC_ITEMS_PER_SCENARIO,
                "replies": _shown(REPLIES_FILE),
                "replies_sha256": _file_sha256(REPLIES_FILE),
            },
            "skipped_no_assistant_turn": skipped,
        },
        **summary,
        "per_conversation": per_conversation,
        "conversations": rows,
    }
    args.out.parent.mkdir(parents=True, exist_ok=True)
    args.out.write_text(json.dumps(result, indent=2) + "\n", encoding="utf-8")
    print(f"\nwrote {args.out}")
    return 0


if __name__ == "__main__":
    sys.exit(main())
