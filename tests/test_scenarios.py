"""Every bundled scenario file loads, validates and renders for every item."""

from __future__ import annotations

from pathlib import Path

import pytest

from harness._util import Problem, scenarios_dir
from harness.scenario import (
    Catalogue,
    attacker_variables,
    load_catalogue,
    load_tactic_file,
    render_attacker,
    render_knowledge,
    render_scenario,
    render_tactic,
)
from harness.scenario._tactics import SAMPLE_VARIABLES
from harness.task import build_samples

SCENARIO_FILES = sorted(
    p for p in scenarios_dir().rglob("*.yaml") if not {"templates", "tactics"} & set(p.parts)
)
TACTIC_FILES = sorted((scenarios_dir() / "tactics").glob("*.yaml"))


def test_bundled_scenarios_exist() -> None:
    assert len(SCENARIO_FILES) >= 8


@pytest.mark.parametrize("path", SCENARIO_FILES, ids=lambda p: p.stem)
def test_scenario_loads_and_renders(path: Path) -> None:
    catalogue: Catalogue = load_catalogue([path])
    [scenario_file] = catalogue.scenarios
    scenario = scenario_file.scenario
    assert scenario.id.startswith(f"{scenario.trait}/")
    assert scenario.pressure.turns and scenario.pressure.persona is not None
    for item in scenario_file.items or [None]:
        rendered = render_scenario(scenario_file, item)
        assert rendered.opening and "{{" not in rendered.opening
        assert all(text and "{{" not in text for text, _ in rendered.ladder)
        assert rendered.persona is not None
        system, start = render_attacker(
            rendered.persona,
            attacker_variables(rendered.persona, scenario.id, scenario.description, 1, 5, []),
            path.parent,
        )
        assert rendered.persona.goal in system and start
    samples = build_samples(catalogue)
    assert len(samples) == max(1, len(scenario_file.items))
    assert len({s.id for s in samples}) == len(samples)


@pytest.mark.parametrize("path", TACTIC_FILES, ids=lambda p: p.stem)
def test_tactic_loads_and_renders(path: Path) -> None:
    problems: list[Problem] = []
    tactic = load_tactic_file(path, problems)
    assert problems == [] and tactic is not None
    text = render_tactic(path.stem, path.parent.parent / "sycophancy", SAMPLE_VARIABLES)
    assert text["instruction"].startswith("Tactic this turn:")
    assert text["description"] == tactic.spec.description


def test_tactic_library_covers_the_issue_tactics() -> None:
    names = {p.stem for p in TACTIC_FILES}
    assert {
        "authority",
        "social_proof",
        "repetition",
        "frustration",
        "flattery",
        "guilt",
        "feigned_vulnerability",
        "incremental_commitment",
        "reframing",
        "false_evidence",
    } <= names


def test_factual_items_cover_forty_questions() -> None:
    catalogue = load_catalogue([scenarios_dir() / "sycophancy" / "factual-pushback.yaml"])
    items = catalogue.scenarios[0].items
    assert len(items) >= 40
    for item in items:
        assert {"question", "answer", "aliases", "wrong_answer", "domain"} <= set(item.fields)
        assert item.fields["answer"] != item.fields["wrong_answer"]


TRAITS = (
    "sycophancy",
    "honesty",
    "refusal_erosion",
    "system_prompt_adherence",
    "calibrated_confidence",
    "over_clarification",
)


def test_catalogue_has_every_trait_with_knowledge_and_five_scenarios() -> None:
    catalogue = load_catalogue()
    for trait in TRAITS:
        rubric = catalogue.rubrics[trait].rubric
        assert rubric.knowledge is not None and rubric.knowledge.probes, trait
        scenarios = [s.scenario for s in catalogue.scenarios if s.scenario.trait == trait]
        assert len(scenarios) >= 5, trait
        for scenario in scenarios:
            assert scenario.single_turn and scenario.knowledge, scenario.id


@pytest.mark.parametrize("trait", TRAITS)
def test_knowledge_prompt_shows_the_rubric(trait: str) -> None:
    rubric = load_catalogue(traits=[trait]).rubrics[trait].rubric
    assert rubric.knowledge is not None
    prompt = render_knowledge(rubric, "Should you?", "No.")
    assert " ".join(rubric.knowledge.principle.split()) in " ".join(prompt.split())
    for number, criterion in enumerate(rubric.knowledge.criteria, start=1):
        assert f"{number}. {criterion}" in prompt
    assert prompt.rstrip().endswith('"explanation": "one sentence"}')


def test_graders_readme_documents_every_trait() -> None:
    readme = (scenarios_dir().parent / "graders" / "README.md").read_text()
    sections = readme.split("\n## ")
    for rubric in sorted((scenarios_dir().parent / "graders").glob("*.yaml")):
        [section] = [s for s in sections if s.startswith(rubric.stem + "\n")]
        assert "Counts as a violation" in section and "Does not count" in section
        for scenario in (scenarios_dir() / rubric.stem).glob("*.yaml"):
            assert f"`{scenario.name}`" in section, scenario
