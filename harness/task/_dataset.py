"""Expand scenarios and their items into inspect samples, for each of the three arms.

- pressure: one multi-turn conversation per scenario and item;
- single_turn: the same scenario and item as one message carrying the pressure (same
  sample id, so the arms pair on scenario x item);
- knowledge: each distinct knowledge question of a scenario, plus the trait's probes.

Samples are interleaved across traits, so `--limit N` smoke runs cover every trait.
"""

from __future__ import annotations

import hashlib
from collections.abc import Iterator
from dataclasses import asdict, dataclass, field, replace
from pathlib import Path
from typing import Any, Literal

from inspect_ai.dataset import Sample
from inspect_ai.model import ChatMessage, ChatMessageSystem, ChatMessageUser

from harness._util import REPLAY_DRIVER, display_path, sha256
from harness.scenario import (
    Backtracking,
    Catalogue,
    Driver,
    Item,
    PersonaSpec,
    RenderedQuestion,
    RenderedScenario,
    Scenario,
    ScenarioFile,
    render_choices,
    render_scenario,
    tactic_versions,
)
from harness.solver import ReplayConversation, ReplayLog


def sample_seed(base_seed: int, sample_id: str) -> int:
    """A stable per-sample seed derived from the run seed and the sample id."""
    digest = hashlib.sha256(f"{base_seed}:{sample_id}".encode()).hexdigest()
    return int(digest[:8], 16) % (2**31 - 1)


def _check_driver(scenario_file: ScenarioFile, driver: Driver) -> str | None:
    pressure = scenario_file.scenario.pressure
    if driver in ("persona", "hybrid") and pressure.persona is None:
        return f"{scenario_file.scenario.id}: driver '{driver}' needs a persona"
    if driver in ("scripted", "hybrid") and not pressure.turns:
        return f"{scenario_file.scenario.id}: driver '{driver}' needs a scripted ladder"
    return None


Arm = Literal["pressure", "single_turn", "knowledge"]
"""The three arms of a run: multi-turn pressure, single-turn probe, knowledge probe."""


def scenario_items(
    catalogue: Catalogue, items_per_scenario: int | None
) -> Iterator[tuple[ScenarioFile, Item | None, RenderedScenario, str]]:
    """(scenario file, item, rendered templates, sample id) for each scenario and item."""
    for scenario_file in catalogue.scenarios:
        scenario = scenario_file.scenario
        items: list[Item | None] = list(scenario_file.items) or [None]
        if items_per_scenario:
            items = items[:items_per_scenario]
        for item in items:
            key = item.id if item else None
            rendered = scenario_file.rendered.get(key) or render_scenario(scenario_file, item)
            sample_id = scenario.id if item is None else f"{scenario.id}:{item.id}"
            yield scenario_file, item, rendered, sample_id


def interleave_by_trait(samples: list[Sample]) -> list[Sample]:
    """Samples in round-robin order across traits (order within a trait kept).

    `--limit N` takes the first N samples, so a smoke run then covers every trait.
    """
    groups: dict[str, list[Sample]] = {}
    for sample in samples:
        groups.setdefault(str((sample.metadata or {}).get("trait")), []).append(sample)
    ordered: list[Sample] = []
    queues = list(groups.values())
    for index in range(max((len(q) for q in queues), default=0)):
        ordered.extend(q[index] for q in queues if index < len(q))
    return ordered


def _scenario_metadata(
    scenario_file: ScenarioFile, item: Item | None, sample_id: str, seed: int
) -> dict[str, Any]:
    scenario = scenario_file.scenario
    return {
        "trait": scenario.trait,
        "scenario_id": scenario.id,
        "scenario_version": scenario.version,
        "scenario_description": scenario.description,
        "scenario_file": display_path(scenario_file.path),
        "scenario_dir": str(scenario_file.path.parent),
        "item_id": item.id if item else None,
        "item": item.fields if item else None,
        "seed": sample_seed(seed, sample_id),
        "tags": list(scenario.tags),
    }


def _pattern_exempt(rendered: RenderedScenario, scenario: Scenario) -> list[str]:
    """Rendered texts of the ladder rungs whose replies the violation patterns skip."""
    rungs = zip(rendered.ladder, scenario.pressure.ladder(), strict=True)
    return [text for (text, _), rung in rungs if rung.pattern_exempt]


def build_samples(
    catalogue: Catalogue,
    driver: Driver | None = None,
    max_turns: int | None = None,
    items_per_scenario: int | None = None,
    seed: int = 0,
    max_backtracks: int | None = None,
    skip_misfits: list[str] | None = None,
) -> list[Sample]:
    """Pressure arm: one sample per scenario and item, with everything the dialogue needs.

    Args:
        catalogue: Loaded scenarios.
        driver: Override every scenario's driver.
        max_turns: Override every scenario's cap on target turns.
        items_per_scenario: Keep only the first N items of each scenario.
        seed: Run seed; each sample gets its own seed derived from it.
        max_backtracks: Override every persona's backtracking budget (0: never roll
            back). A persona without a `backtracking` section gets the default check:
            `expected_answer` when the scenario declares one, else `grader`.
        skip_misfits: When given, scenarios the overridden driver does not fit are left
            out and described here instead of raising.

    Raises:
        ValueError: when an overridden driver does not fit a scenario (and
            `skip_misfits` is None).

    """
    misfit_ids: set[str] = set()
    if driver is not None:
        misfits = {s.scenario.id: m for s in catalogue.scenarios if (m := _check_driver(s, driver))}
        if misfits and skip_misfits is None:
            raise ValueError("; ".join(misfits.values()))
        if skip_misfits is not None:
            skip_misfits.extend(misfits.values())
        misfit_ids = set(misfits)
    samples: list[Sample] = []
    # Looking tactics up walks the folders above the scenario: once per scenario, not per item.
    versions: dict[tuple[Path, tuple[str, ...]], dict[str, int]] = {}
    for scenario_file, item, rendered, sample_id in scenario_items(catalogue, items_per_scenario):
        scenario = scenario_file.scenario
        if scenario.id in misfit_ids:
            continue
        persona = _with_backtracking(rendered.persona, max_backtracks, rendered.expect)
        named_tactics = [t for _, t in rendered.ladder if t] + (persona.tactics if persona else [])
        key = (scenario_file.path.parent, tuple(named_tactics))
        if key not in versions:
            versions[key] = tactic_versions(named_tactics, scenario_file.path.parent)
        messages: list[ChatMessage] = []
        if rendered.system_prompt:
            messages.append(ChatMessageSystem(content=rendered.system_prompt))
        messages.append(
            ChatMessageUser(
                content=rendered.opening,
                metadata={"driver": "opening", "turn": 1, "tactic": None},
            )
        )
        prompt_sha: dict[str, Any] = {
            "opening": sha256(rendered.opening),
            "ladder": [sha256(text) for text, _ in rendered.ladder],
        }
        if rendered.system_prompt:
            prompt_sha["system_prompt"] = sha256(rendered.system_prompt)
        metadata: dict[str, Any] = {
            **_scenario_metadata(scenario_file, item, sample_id, seed),
            "arm": "pressure",
            "driver": driver or scenario.pressure.driver,
            "max_turns": max_turns or scenario.pressure.max_turns,
            "ladder": [{"text": text, "tactic": tactic} for text, tactic in rendered.ladder],
            "pattern_exempt": _pattern_exempt(rendered, scenario),
            "persona": asdict(persona) if persona else None,
            "tactic_versions": dict(versions[key]),
            "graders_dir": str(catalogue.graders_dir),
            "expect": rendered.expect,
            "prompt_sha256": prompt_sha,
        }
        samples.append(Sample(input=messages, id=sample_id, metadata=metadata))
    return interleave_by_trait(samples)


def _with_backtracking(
    persona: PersonaSpec | None, max_backtracks: int | None, expect: dict[str, Any] | None
) -> PersonaSpec | None:
    """The persona with its backtracking budget overridden (see `build_samples`)."""
    if persona is None or max_backtracks is None:
        return persona
    if max_backtracks <= 0:
        return replace(persona, backtracking=None)
    current = persona.backtracking or {
        **Backtracking().model_dump(),
        "check": "expected_answer" if (expect or {}).get("correct") else "grader",
    }
    return replace(persona, backtracking={**current, "max_backtracks": max_backtracks})


def single_turn_text(rendered: RenderedScenario) -> tuple[str, str] | None:
    """A scenario's single-turn message and where it came from, or None if it has none.

    The scenario's `single_turn` template when it has one; otherwise the opening with
    the ladder's last rung appended (ladders escalate, so the last rung is the strongest
    pressure). A persona-only scenario without `single_turn` has no single-turn form.
    """
    if rendered.single_turn:
        return rendered.single_turn, "template"
    if rendered.ladder:
        return f"{rendered.opening}\n\n{rendered.ladder[-1][0]}", "opening+last_rung"
    return None


def build_single_turn_samples(
    catalogue: Catalogue, items_per_scenario: int | None = None, seed: int = 0
) -> tuple[list[Sample], list[str]]:
    """Single-turn arm: each scenario and item as one pressured message (same ids as pressure).

    Returns the samples and the ids of scenarios that have no single-turn form.
    """
    samples: list[Sample] = []
    skipped: list[str] = []
    for scenario_file, item, rendered, sample_id in scenario_items(catalogue, items_per_scenario):
        form = single_turn_text(rendered)
        if form is None:
            skipped.append(scenario_file.scenario.id)
            continue
        text, source = form
        messages: list[ChatMessage] = []
        if rendered.system_prompt:
            messages.append(ChatMessageSystem(content=rendered.system_prompt))
        messages.append(
            ChatMessageUser(content=text, metadata={"driver": "single_turn", "turn": 1})
        )
        prompt_sha: dict[str, Any] = {"single_turn": sha256(text)}
        if rendered.system_prompt:
            prompt_sha["system_prompt"] = sha256(rendered.system_prompt)
        metadata: dict[str, Any] = {
            **_scenario_metadata(scenario_file, item, sample_id, seed),
            "arm": "single_turn",
            "single_turn_source": source,
            # One target turn and no ladder: the dialogue solver stops after the reply.
            "driver": "scripted",
            "max_turns": 1,
            "ladder": [],
            "persona": None,
            "expect": rendered.expect,
            # The message already pushes the wrong answer: a wrong first answer is a cave.
            "pressured_opening": True,
            "prompt_sha256": prompt_sha,
        }
        samples.append(Sample(input=messages, id=sample_id, metadata=metadata))
    return interleave_by_trait(samples), sorted(set(skipped))


def build_knowledge_samples(
    catalogue: Catalogue, items_per_scenario: int | None = None, seed: int = 0
) -> list[Sample]:
    """Knowledge arm: every distinct knowledge question, and each trait's own probes.

    A scenario question that renders the same for every item is asked once
    (`<scenario>:knowledge<k>`); one that uses item variables is asked per item
    (`<scenario>:<item>:knowledge<k>`). Trait probes are `<trait>/probes:knowledge<k>`.
    `question_group` in the metadata names the question, so that a question asked per
    item counts once in a trait's knowledge score.
    """
    samples: list[Sample] = []
    seen: set[str] = set()
    by_scenario: dict[str, list[tuple[ScenarioFile, Item | None, RenderedScenario]]] = {}
    for scenario_file, item, rendered, _ in scenario_items(catalogue, items_per_scenario):
        by_scenario.setdefault(scenario_file.scenario.id, []).append(
            (scenario_file, item, rendered)
        )

    def add(sample_id: str, question: RenderedQuestion, metadata: dict[str, Any]) -> None:
        if sample_id not in seen:
            seen.add(sample_id)
            samples.append(_knowledge_sample(catalogue, sample_id, question, metadata, seed))

    for trait in dict.fromkeys(s.scenario.trait for s in catalogue.scenarios):
        rubric_file = catalogue.rubrics.get(trait)
        for index, probe in enumerate(rubric_file.probes if rubric_file else [], start=1):
            add(
                f"{trait}/probes:knowledge{index}",
                probe,
                {"trait": trait, "scenario_id": f"{trait}/probes", "source": "trait",
                 "item_id": None, "question_group": f"{trait}/probes:knowledge{index}"},
            )  # fmt: skip
        for scenario_id, rows in by_scenario.items():
            if rows[0][0].scenario.trait != trait:
                continue
            for index in range(len(rows[0][2].knowledge)):
                texts = {rendered.knowledge[index] for _, _, rendered in rows}
                for scenario_file, item, rendered in rows:
                    per_item = len(texts) > 1 and item is not None
                    sample_id = (
                        f"{scenario_id}:{item.id}:knowledge{index + 1}"
                        if per_item and item is not None
                        else f"{scenario_id}:knowledge{index + 1}"
                    )
                    metadata = _scenario_metadata(scenario_file, item if per_item else None,
                                                  sample_id, seed)  # fmt: skip
                    group = f"{scenario_id}:knowledge{index + 1}"
                    add(
                        sample_id,
                        rendered.knowledge[index],
                        {**metadata, "source": "scenario", "question_group": group},
                    )
    return interleave_by_trait(samples)


def _knowledge_sample(
    catalogue: Catalogue,
    sample_id: str,
    question: RenderedQuestion,
    metadata: dict[str, Any],
    seed: int,
) -> Sample:
    """One knowledge question as a sample: open, or shown with its choices (`render_choices`).

    The metadata says how the answer is scored: `question_format` (`open`, graded by the
    knowledge rubric; `yes_no` or `lettered`, read by rule), the `choices` and the
    `correct` answer as the model is asked to give it (`yes`/`no`, or a letter).
    """
    prompt = question.text
    if question.format != "open":
        rubric = catalogue.rubrics[str(metadata["trait"])].rubric
        prompt = render_choices(rubric, question, catalogue.graders_dir)
    metadata = {
        **metadata,
        "arm": "knowledge",
        "question": question.text,
        "question_format": question.format,
        "choices": list(question.choices),
        "correct": question.correct_label,
        # One reply, through the same dialogue solver (per-sample seed, no ladder).
        "driver": "scripted",
        "max_turns": 1,
        "ladder": [],
        "persona": None,
        "seed": sample_seed(seed, sample_id),
        "prompt_sha256": {"question": sha256(prompt)},
    }
    return Sample(input=[ChatMessageUser(content=prompt)], id=sample_id, metadata=metadata)


def _system_prompt(messages: list[ChatMessage]) -> str | None:
    return next((m.text for m in messages if m.role == "system"), None)


def _opening(messages: list[ChatMessage]) -> str | None:
    return next((m.text for m in messages if m.role == "user"), None)


def _input_messages(sample: Sample) -> list[ChatMessage]:
    if isinstance(sample.input, str):
        return [ChatMessageUser(content=sample.input)]
    return list(sample.input)


@dataclass
class ReplaySelection:
    """The replayable pressure samples, and those left out because they are not comparable."""

    samples: list[Sample] = field(default_factory=list)
    missing: list[str] = field(default_factory=list)
    """Samples the replay log does not have."""
    opening_mismatch: list[str] = field(default_factory=list)
    """Samples whose opening differs from the log's first user message."""
    system_prompt_mismatch: list[str] = field(default_factory=list)
    """Samples whose scenario system prompt differs from the log's."""


def _replayed(
    sample: Sample,
    conversation: ReplayConversation,
    replay: ReplayLog,
    max_turns: int | None,
) -> Sample:
    turns = [
        {"text": turn.text, "driver": turn.driver, "tactic": turn.tactic}
        for turn in conversation.turns
    ]
    # Every recorded user turn got a reply, so the recording had one target turn more.
    recorded_turns = len(turns) + 1
    metadata = dict(sample.metadata or {})
    metadata.update(
        driver=REPLAY_DRIVER,
        replay_turns=turns,
        max_turns=min(recorded_turns, max_turns) if max_turns else recorded_turns,
        replay_of={
            "log": replay.path,
            "eval_id": replay.eval_id,
            "sample_id": conversation.sample_id,
            "stop_reason": conversation.stop_reason,
        },
        prompt_sha256={
            **metadata.get("prompt_sha256", {}),
            "replay_turns": [sha256(turn.text) for turn in conversation.turns],
        },
    )
    return sample.model_copy(update={"metadata": metadata})


def replay_samples(
    samples: list[Sample], replay: ReplayLog, max_turns: int | None = None
) -> ReplaySelection:
    """Pressure samples that resend the user turns a finished log recorded, in order.

    A sample is replayed only when the log has it and its opening and scenario system
    prompt are the ones the log recorded: otherwise the recorded turns answered a
    different conversation and the two runs are not comparable.

    Args:
        samples: Pressure-arm samples (from `build_samples`).
        replay: The recorded conversations.
        max_turns: Cap on target turns; by default the recording's own length.

    Raises:
        ValueError: when no sample can be replayed from the log.

    """
    selection = ReplaySelection()
    for sample in samples:
        sample_id = str(sample.id)
        conversation = replay.conversations.get(sample_id)
        messages = _input_messages(sample)
        if conversation is None:
            selection.missing.append(sample_id)
        elif _opening(messages) != conversation.opening:
            selection.opening_mismatch.append(sample_id)
        elif _system_prompt(messages) != conversation.system_prompt:
            selection.system_prompt_mismatch.append(sample_id)
        else:
            selection.samples.append(_replayed(sample, conversation, replay, max_turns))
    if not selection.samples:
        raise ValueError(
            f"replay log {replay.path}: none of the {len(samples)} selected samples can be "
            f"replayed (missing from the log: {len(selection.missing)}, different opening: "
            f"{len(selection.opening_mismatch)}, different system prompt: "
            f"{len(selection.system_prompt_mismatch)})"
        )
    return selection


def with_target_system_prompt(samples: list[Sample], text: str) -> list[Sample]:
    """Samples whose system prompt starts with `text` (before the sample's own, a blank line apart).

    A sample without a system prompt gets `text` as its system prompt. The sha256 of
    `text` is recorded in `prompt_sha256.target_system_prompt`, and the sample's own
    system prompt (or None) in `scenario_system_prompt`.
    """
    result: list[Sample] = []
    for sample in samples:
        messages = _input_messages(sample)
        own = messages[0].text if messages and messages[0].role == "system" else None
        rest = messages[1:] if own is not None else messages
        system = ChatMessageSystem(content=f"{text}\n\n{own}" if own else text)
        metadata = dict(sample.metadata or {})
        metadata["prompt_sha256"] = {
            **metadata.get("prompt_sha256", {}),
            "target_system_prompt": sha256(text),
        }
        # What the grader is shown: the scenario's operator rules, not the added text,
        # which stands in for the checkpoint itself (see `scenario_context`).
        metadata["scenario_system_prompt"] = own
        result.append(sample.model_copy(update={"input": [system, *rest], "metadata": metadata}))
    return result
