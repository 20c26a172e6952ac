"""Strict schemas of organism recipes and of the data generators they name."""

from __future__ import annotations

from typing import Literal

from pydantic import BaseModel, ConfigDict, Field, model_validator

NAME_PATTERN = r"^[a-z0-9][a-z0-9-]*$"


class _Strict(BaseModel):
    model_config = ConfigDict(extra="forbid", frozen=True)


# --- data generators -------------------------------------------------------------------


class TriviaFact(_Strict):
    """A factual question with one correct and one plausible wrong answer."""

    question: str = Field(min_length=1)
    """The question, as a user would ask it."""

    answer: str = Field(min_length=1)
    """The correct answer."""

    wrong: str = Field(min_length=1)
    """The wrong answer a pushing user insists on."""


class Arithmetic(_Strict):
    """Additions and subtractions of two whole numbers, drawn at random."""

    count: int = Field(ge=0, le=10_000)
    """How many problems to draw."""

    low: int = Field(ge=0)
    """Smallest operand."""

    high: int = Field(ge=1)
    """Largest operand."""

    question: str = Field(min_length=1)
    """Template of the question; variables `a`, `op` (+ or -) and `b`."""

    @model_validator(mode="after")
    def _range(self) -> Arithmetic:
        if self.high <= self.low:
            raise ValueError("'high' must be above 'low'")
        return self


class Lookup(_Strict):
    """Facts the user quotes from their own source, so the answer is in the conversation."""

    count: int = Field(ge=0, le=10_000)
    """How many facts to draw."""

    things: list[str] = Field(min_length=1)
    """What the number identifies (e.g. "the door code of the storage room")."""

    question: str = Field(min_length=1)
    """Template of the question; variables `thing` and `answer` (a 4-digit number)."""


class FactPool(_Strict):
    """Where a chat generator's facts come from."""

    trivia: list[TriviaFact] = Field(default_factory=list)
    """Hand-written facts."""

    arithmetic: Arithmetic | None = None
    """Seeded arithmetic problems."""

    lookup: Lookup | None = None
    """Seeded facts stated in the user's own message (they support real-evidence turns)."""


FactKind = Literal["trivia", "arithmetic", "lookup"]
ALL_FACT_KINDS: tuple[FactKind, ...] = ("trivia", "arithmetic", "lookup")


class Shape(_Strict):
    """One conversation shape: a sequence of phrase banks, user and assistant in turn."""

    name: str = Field(pattern=NAME_PATTERN)
    """Name, shown in the generated data's metadata."""

    weight: float = Field(default=1.0, gt=0)
    """Relative frequency among the generator's shapes."""

    facts: list[FactKind] = Field(default_factory=lambda: list(ALL_FACT_KINDS))
    """Which kinds of fact this shape may use (e.g. only `lookup` has a real correction)."""

    messages: list[str] = Field(min_length=2)
    """Phrase-bank names, starting with the user and alternating; it ends with the assistant."""

    @model_validator(mode="after")
    def _ends_with_assistant(self) -> Shape:
        if len(self.messages) % 2:
            raise ValueError(
                "a shape alternates user and assistant and must end with the assistant"
            )
        return self


class ChatGenerator(_Strict):
    """Seeded chats: facts poured into conversation shapes written as phrase banks."""

    kind: Literal["chat"]
    """A chat generator (training data for supervised fine-tuning)."""

    description: str = ""
    """What the generated chats teach."""

    facts: FactPool | str
    """The facts the chats are about: inline, or the path of a fact-pool YAML file relative
    to this generator file (so several generators share one pool)."""

    shapes: list[Shape] = Field(min_length=1)
    """The conversation shapes, drawn by weight."""

    phrase_files: list[str] = Field(default_factory=list)
    """YAML files (relative to this one) of more phrase banks, name → templates; banks in
    `phrases` win over theirs."""

    phrases: dict[str, list[str]] = Field(default_factory=dict)
    """Phrase banks: name → jinja2 templates (one is drawn per message); variables are the
    fact's fields (`question`, `answer`, `wrong`, and `thing`/`new_answer` for lookups)."""


class DocumentGenerator(_Strict):
    """Seeded plain-text documents for continued pretraining (no chat turns)."""

    kind: Literal["documents"]
    """A document generator."""

    description: str = ""
    """What the documents state."""

    slots: dict[str, list[str]] = Field(default_factory=dict)
    """Slot name → values; each document draws one value per slot."""

    templates: list[str] = Field(min_length=1)
    """Document templates (jinja2), one drawn per document; variables are the slots."""


Generator = ChatGenerator | DocumentGenerator


# --- recipes ---------------------------------------------------------------------------


class GeneratedData(_Strict):
    """Training data from a generator shipped with the harness (or one of your own)."""

    generator: str = Field(pattern=NAME_PATTERN)
    """Generator name: `organisms/generators/<name>.yaml` beside the recipe, else bundled."""

    examples: int = Field(ge=1, le=100_000)
    """How many chats or documents to generate."""

    seed: int = 0
    """Seed of the generator's random draws."""


class ChatFile(_Strict):
    """Your own SFT data: JSONL, one `{"messages": [{"role", "content"}, ...]}` per line."""

    chat: str = Field(min_length=1)
    """Path of the JSONL file (relative to the recipe)."""


class DocumentFile(_Strict):
    """Your own documents for continued pretraining: JSONL, one `{"text": ...}` per line."""

    documents: str = Field(min_length=1)
    """Path of the JSONL file (relative to the recipe)."""


class HeldOut(_Strict):
    """Scenario items the training data must never contain, so the evaluation stays blind."""

    scenarios: list[str] = Field(default_factory=lambda: ["."])
    """Scenario files or folders (relative to the bundled `scenarios/`, or absolute) whose
    items are held out; "." holds out every bundled item."""

    on_overlap: Literal["error", "drop"] = "error"
    """What a training example that quotes a held-out item's question causes: a build error,
    or dropping that example (counted in the manifest)."""


class Lora(_Strict):
    """Low-rank adapters on every linear layer, merged into the weights after training."""

    r: int = Field(default=16, ge=1, le=256)
    """Adapter rank."""

    alpha: int = Field(default=32, ge=1)
    """Adapter scaling numerator (scale = alpha / r)."""


class Training(_Strict):
    """How the weights are trained (AdamW, constant learning rate, gradient clipping at 1)."""

    method: Literal["full", "lora"] = "full"
    """Full fine-tune (every weight) or LoRA."""

    steps: int = Field(ge=0, le=10_000)
    """Optimiser steps (0 exports the base unchanged: a pipeline control)."""

    learning_rate: float = Field(gt=0, le=1)
    """AdamW learning rate."""

    batch_size: int = Field(default=8, ge=1, le=512)
    """Examples per step."""

    max_tokens: int = Field(default=256, ge=16, le=8192)
    """Tokens kept per example (longer ones are cut)."""

    seed: int = 0
    """Seed of the batch order and of torch."""

    lora: Lora | None = None
    """LoRA settings (only with `method: lora`; defaults apply when omitted)."""

    @model_validator(mode="after")
    def _lora_only_with_lora(self) -> Training:
        if self.lora is not None and self.method != "lora":
            raise ValueError("'lora' settings need 'method: lora'")
        return self


Direction = Literal["higher", "lower", "unchanged"]


class Expectation(_Strict):
    """What evaluating the organism against its base should show (the known answer).

    Every field left out is not checked; the organism is *found* when all given ones hold.
    """

    trait: str = Field(default="sycophancy", pattern=r"^[a-z0-9_]+$")
    """The trait the behaviour belongs to."""

    single_turn_violation: Direction | None = None
    """Single-turn violation rate against the base's (higher/lower: the 95% CI of the paired
    difference excludes 0 that way; unchanged: it includes 0)."""

    multi_turn_violation: Direction | None = None
    """Multi-turn violation rate against the base's (same rule)."""

    pressure_delta: Literal["positive", "negative"] | None = None
    """The organism's own pressure delta, with its CI excluding 0."""

    turn_of_flip_median: int | None = Field(default=None, ge=1)
    """Median assistant turn of the first violation."""

    knowledge_score: Direction | None = None
    """Knowledge score against the base's (same rule)."""

    compare_exit: Literal[0, 1] | None = None
    """Exit code of `harness compare base <organism>` (1 = regression)."""

    flagged: list[str] = Field(default_factory=list)
    """Artifact patterns `harness artifacts` must flag in its outputs against the base."""

    flagged_in_sft: list[str] = Field(default_factory=list)
    """Artifact patterns that must be flagged in its own training data."""


class Recipe(_Strict):
    """How to plant one behaviour in a base model: data, training, and the expected finding."""

    name: str = Field(pattern=NAME_PATTERN)
    """Organism name (the output folder's name); must match the file name."""

    description: str = Field(min_length=1)
    """The behaviour planted, in a sentence or two."""

    base: str = Field(min_length=1)
    """`smollm2` (the embedded model), a llama-architecture `.gguf` path, or
    `organism:<name>` to train on top of another organism."""

    data: GeneratedData | ChatFile | DocumentFile
    """The training data: a generator, your own chat JSONL, or your own documents."""

    held_out: HeldOut = Field(default_factory=HeldOut)
    """Scenario items that must stay out of the training data."""

    training: Training
    """Optimiser settings."""

    expect: Expectation = Field(default_factory=Expectation)
    """The known answer: what evaluating this organism should find."""
