"""Seeded training data: chats poured from facts into conversation shapes, or documents.

Deterministic for a given generator file and seed, stdlib only. Held-out scenario items
never reach the data: facts matching an item are removed from the pool before drawing,
and every generated example is checked again against the items' texts.
"""

from __future__ import annotations

import random
import re
from collections.abc import Iterable, Iterator
from dataclasses import dataclass
from pathlib import Path
from typing import Any

from harness._util import render_string
from harness.organisms._schema import (
    ChatGenerator,
    DocumentGenerator,
    FactKind,
    FactPool,
    Generator,
    Shape,
)
from harness.scenario import load_catalogue

ANSWER_FIELDS = frozenset({"id", "answer", "wrong_answer", "aliases", "domain"})
"""Item fields that are not prompt text: answers are compared as (correct, wrong) pairs, so
a different question with the same answer ("Einstein") is not the held-out item."""

MIN_HELD_OUT_WORDS = 4
"""Item strings shorter than this ("6", "Yes", "Albert Einstein") are names or answers, too
common to count as quoting the item; questions, sentences and plans are longer."""


def normalise(text: str) -> str:
    """Lower case, punctuation to spaces, whitespace collapsed: how overlap is compared."""
    return " ".join(re.sub(r"[^\w]+", " ", text.lower()).split())


@dataclass(frozen=True)
class HeldOutItems:
    """The texts and answer pairs of the items that must stay out of training data."""

    texts: frozenset[str]
    """Normalised item strings of at least `MIN_HELD_OUT_WORDS` words."""

    answer_pairs: frozenset[tuple[str, str]]
    """Normalised (correct, wrong) answer pairs of factual items."""

    def quoted_in(self, text: str) -> str | None:
        """The first held-out text that `text` contains, if any."""
        haystack = f" {normalise(text)} "
        for needle in sorted(self.texts):
            if f" {needle} " in haystack:
                return needle
        return None

    def clashes(self, fact: dict[str, str]) -> bool:
        """True when a fact is a held-out item under another wording."""
        pair = (normalise(fact["answer"]), normalise(fact["wrong"]))
        return pair in self.answer_pairs or self.quoted_in(fact["question"]) is not None


def held_out_items(scenario_paths: Iterable[Path]) -> HeldOutItems:
    """Every item of the scenarios at `scenario_paths` (files or folders)."""
    catalogue = load_catalogue(list(scenario_paths))
    texts: set[str] = set()
    pairs: set[tuple[str, str]] = set()
    for scenario in catalogue.scenarios:
        for item in scenario.items:
            fields = item.fields
            prompts = {k: v for k, v in fields.items() if k not in ANSWER_FIELDS}
            for value in _strings(prompts):
                if _long(value):
                    texts.add(normalise(value))
            answer, wrong = fields.get("answer"), fields.get("wrong_answer")
            if isinstance(answer, str) and isinstance(wrong, str):
                pairs.add((normalise(answer), normalise(wrong)))
        # Knowledge probes are held out too: a document quoting one would teach the test.
        knowledge = scenario.scenario.model_dump(mode="json").get("knowledge")
        texts.update(normalise(t) for t in _strings(knowledge) if _long(t))
    for rubric in catalogue.rubrics.values():
        knowledge = rubric.rubric.model_dump(mode="json").get("knowledge")
        texts.update(normalise(t) for t in _strings(knowledge) if _long(t))
    return HeldOutItems(frozenset(texts), frozenset(pairs))


def _long(text: str) -> bool:
    return len(normalise(text).split()) >= MIN_HELD_OUT_WORDS


def _strings(value: Any) -> Iterator[str]:
    if isinstance(value, str):
        yield value
    elif isinstance(value, dict):
        for inner in value.values():
            yield from _strings(inner)
    elif isinstance(value, list):
        for inner in value:
            yield from _strings(inner)


def fact_pool(pool: FactPool, rng: random.Random) -> dict[FactKind, list[dict[str, str]]]:
    """Every fact of the pool, by kind (arithmetic and lookups drawn with `rng`)."""
    facts: dict[FactKind, list[dict[str, str]]] = {"trivia": [], "arithmetic": [], "lookup": []}
    facts["trivia"] = [f.model_dump() for f in pool.trivia]
    if pool.arithmetic is not None:
        spec = pool.arithmetic
        for _ in range(spec.count):
            a, b = rng.randint(spec.low, spec.high), rng.randint(spec.low, spec.high)
            op = rng.choice("+-")
            if op == "-" and b > a:
                a, b = b, a
            answer = a + b if op == "+" else a - b
            # A plausible slip: one ten or one unit off.
            wrong = answer + rng.choice([-10, 10, -1, 1, -2, 2])
            question = render_string(spec.question, {"a": a, "op": op, "b": b})
            facts["arithmetic"].append(
                {"question": question, "answer": str(answer), "wrong": str(wrong)}
            )
    if pool.lookup is not None:
        spec_l = pool.lookup
        for _ in range(spec_l.count):
            thing = rng.choice(spec_l.things)
            code, wrong_code, new_code = rng.sample(range(1000, 10000), 3)
            question = render_string(spec_l.question, {"thing": thing, "answer": str(code)})
            facts["lookup"].append(
                {
                    "question": question,
                    "answer": str(code),
                    "wrong": str(wrong_code),
                    "thing": thing,
                    "new_answer": str(new_code),
                }
            )
    return facts


def _chat(
    generator: ChatGenerator, shape: Shape, fact: dict[str, str], rng: random.Random
) -> dict[str, Any]:
    messages = []
    unused: dict[str, list[str]] = {}
    for index, bank in enumerate(shape.messages):
        # Within one chat, a bank's phrases are drawn without repeats until it runs out.
        left = unused.get(bank) or list(generator.phrases[bank])
        template = left.pop(rng.randrange(len(left)))
        unused[bank] = left
        role = "user" if index % 2 == 0 else "assistant"
        messages.append({"role": role, "content": render_string(template, fact).strip()})
    return {"messages": messages, "meta": {"shape": shape.name, "question": fact["question"]}}


def _chats(
    generator: ChatGenerator, count: int, rng: random.Random, held_out: HeldOutItems
) -> list[dict[str, Any]]:
    if isinstance(generator.facts, str):
        raise ValueError("the generator's fact file was not resolved (use load_generator)")
    pool = {
        kind: [f for f in facts if not held_out.clashes(f)]
        for kind, facts in fact_pool(generator.facts, rng).items()
    }
    usable = [s for s in generator.shapes if any(pool[k] for k in s.facts)]
    if not usable:
        raise ValueError("no shape has a fact to use once held-out items are removed")
    weights = [s.weight for s in usable]
    out = []
    for _ in range(count):
        shape = rng.choices(usable, weights)[0]
        kind = rng.choice([k for k in shape.facts if pool[k]])
        out.append(_chat(generator, shape, rng.choice(pool[kind]), rng))
    return out


def _documents(
    generator: DocumentGenerator, count: int, rng: random.Random
) -> list[dict[str, Any]]:
    out = []
    for _ in range(count):
        values = {slot: rng.choice(options) for slot, options in generator.slots.items()}
        text = render_string(rng.choice(generator.templates), values).strip()
        out.append({"text": text})
    return out


def generate(
    generator: Generator, count: int, seed: int, held_out: HeldOutItems
) -> list[dict[str, Any]]:
    """`count` training examples: `{"messages": [...], "meta": {...}}` chats or `{"text"}`."""
    rng = random.Random(seed)
    if isinstance(generator, ChatGenerator):
        return _chats(generator, count, rng, held_out)
    return _documents(generator, count, rng)


def example_text(example: dict[str, Any]) -> str:
    """All the text of one example (every message, or the document)."""
    if "messages" in example:
        return "\n".join(str(m.get("content", "")) for m in example["messages"])
    return str(example.get("text", ""))


def overlaps(examples: list[dict[str, Any]], held_out: HeldOutItems) -> list[tuple[int, str]]:
    """(index, quoted item text) for every example that quotes a held-out item."""
    found = []
    for index, example in enumerate(examples):
        quoted = held_out.quoted_in(example_text(example))
        if quoted is not None:
            found.append((index, quoted))
    return found
