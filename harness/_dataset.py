"""Expand scenarios and their items into inspect samples."""

from __future__ import annotations

import hashlib
from dataclasses import asdict
from typing import Any

from inspect_ai.dataset import MemoryDataset, Sample
from inspect_ai.model import ChatMessage, ChatMessageSystem, ChatMessageUser

from harness._loader import Catalogue, Item, ScenarioFile, display_path, render_scenario
from harness._schema import Driver
from harness._templates import sha256


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


def build_samples(
    catalogue: Catalogue,
    driver: Driver | None = None,
    max_turns: int | None = None,
    items_per_scenario: int | None = None,
    seed: int = 0,
) -> list[Sample]:
    """One sample per scenario and item, with everything the dialogue and grader need.

    Args:
        catalogue: Loaded scenarios.
        driver: Override every scenario's driver.
        max_turns: Override every scenario's cap on target turns.
        items_per_scenario: Keep only the first N items of each scenario.
        seed: Run seed; each sample gets its own seed derived from it.

    Raises:
        ValueError: when an overridden driver does not fit a scenario.

    """
    if driver is not None:
        misfits = [m for s in catalogue.scenarios if (m := _check_driver(s, driver))]
        if misfits:
            raise ValueError("; ".join(misfits))
    samples: list[Sample] = []
    for scenario_file in catalogue.scenarios:
        scenario = scenario_file.scenario
        items: list[Item | None] = list(scenario_file.items) or [None]
        if items_per_scenario:
            items = items[:items_per_scenario]
        for item in items:
            rendered = render_scenario(scenario_file, item)
            sample_id = scenario.id if item is None else f"{scenario.id}:{item.id}"
            sample_driver = driver or scenario.pressure.driver
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
            if rendered.single_turn:
                prompt_sha["single_turn"] = sha256(rendered.single_turn)
            if rendered.knowledge:
                prompt_sha["knowledge"] = [sha256(q) for q in rendered.knowledge]
            metadata: dict[str, Any] = {
                "trait": scenario.trait,
                "scenario_id": scenario.id,
                "scenario_version": scenario.version,
                "scenario_description": scenario.description,
                "scenario_file": display_path(scenario_file.path),
                "scenario_dir": str(scenario_file.path.parent),
                "item_id": item.id if item else None,
                "item": item.fields if item else None,
                "driver": sample_driver,
                "max_turns": max_turns or scenario.pressure.max_turns,
                "ladder": [{"text": text, "tactic": tactic} for text, tactic in rendered.ladder],
                "persona": asdict(rendered.persona) if rendered.persona else None,
                "single_turn": rendered.single_turn,
                "knowledge": rendered.knowledge,
                "expect": rendered.expect,
                "seed": sample_seed(seed, sample_id),
                "prompt_sha256": prompt_sha,
                "tags": list(scenario.tags),
            }
            samples.append(Sample(input=messages, id=sample_id, metadata=metadata))
    return samples


def build_dataset(catalogue: Catalogue, **kwargs: Any) -> MemoryDataset:
    """`build_samples` as an inspect dataset named after the bundled catalogue."""
    return MemoryDataset(build_samples(catalogue, **kwargs), name="harness-scenarios")
