"""Load and validate scenario, items and rubric files, gathering every problem."""

from __future__ import annotations

from collections.abc import Callable, Iterable
from dataclasses import dataclass, field
from functools import partial
from pathlib import Path
from typing import Any

from harness._util import (
    NON_SCENARIO_DIRS,
    LoadedYaml,
    Loc,
    Problem,
    TemplateProblem,
    ValidationFailed,
    check_template,
    display_path,
    dotted,
    graders_dir,
    load_model,
    parse_jsonl,
    render_string,
    scenarios_dir,
)
from harness.scenario._prompts import (
    SAMPLE_CHOICE_QUESTIONS,
    SAMPLE_RESISTANCE_VARIABLES,
    SAMPLE_TURNS,
    PersonaSpec,
    RenderedQuestion,
    attacker_variables,
    extraction_variables,
    grader_variables,
    render_attacker,
    render_choices,
    render_extraction,
    render_grader,
    render_grader_prefix,
    render_grader_retry,
    render_knowledge,
    render_resistance_check,
)
from harness.scenario._schema import ChoiceQuestion, Rubric, Scenario, duplicate_choices
from harness.scenario._tactics import find_tactic, load_tactic_file, tactic_folders


@dataclass(frozen=True)
class Item:
    """One line of an items file: its id, line number and template variables."""

    id: str
    line: int
    fields: dict[str, Any]


@dataclass
class ScenarioFile:
    """A validated scenario with its source location and items."""

    path: Path
    scenario: Scenario
    source: LoadedYaml
    items: list[Item]
    items_path: Path | None
    rendered: dict[str | None, RenderedScenario] = field(default_factory=dict)
    """Templates rendered per item id (None: no items) while validating, reused by runs."""

    def line_of(self, *loc: str | int) -> int:
        """Line where a field starts in the scenario file."""
        return self.source.line_of(tuple(loc))


@dataclass
class RubricFile:
    """A validated rubric with its source location."""

    path: Path
    rubric: Rubric
    source: LoadedYaml
    probes: list[RenderedQuestion] = field(default_factory=list)
    """The knowledge probes, rendered (they have no item variables)."""


@dataclass
class Catalogue:
    """Everything loaded from a set of scenario paths and a graders folder."""

    scenarios: list[ScenarioFile] = field(default_factory=list)
    rubrics: dict[str, RubricFile] = field(default_factory=dict)
    graders_dir: Path = field(default_factory=graders_dir)
    tactic_files: list[Path] = field(default_factory=list)
    """Every valid tactic file of the libraries these scenarios see (checked, used or not)."""


@dataclass(frozen=True)
class RenderedScenario:
    """A scenario's templates rendered for one item."""

    system_prompt: str | None
    opening: str
    ladder: list[tuple[str, str | None]]
    persona: PersonaSpec | None
    single_turn: str | None
    knowledge: list[RenderedQuestion]
    expect: dict[str, Any] | None
    """`correct` and `wrong` (rendered), and the aliases and tolerance when declared."""


def load_items(path: Path, problems: list[Problem], where: Problem) -> list[Item]:
    """Read a JSONL items file; each line must be a JSON object."""
    file = display_path(path)
    if path.exists() and not path.is_file():
        # A device such as /dev/zero would be read forever.
        problems.append(Problem(where.file, where.line, where.path, f"not a regular file: {file}"))
        return []
    try:
        lines = path.read_text(encoding="utf-8").splitlines()
    except FileNotFoundError:
        problems.append(
            Problem(where.file, where.line, where.path, f"items file not found: {file}")
        )
        return []
    except (OSError, UnicodeDecodeError) as exc:
        problems.append(Problem(where.file, where.line, where.path, f"cannot read {file}: {exc}"))
        return []
    items: list[Item] = []
    seen: dict[str, int] = {}
    parsed, problems_found = parse_jsonl(file, lines)
    problems.extend(problems_found)
    for number, fields in parsed:
        if not isinstance(fields, dict):
            problems.append(Problem(file, number, "", "each line must be a JSON object"))
            continue
        bad_keys = [k for k in fields if not k.isidentifier() or k.startswith("_")]
        if bad_keys:
            problems.append(
                Problem(file, number, bad_keys[0], "item keys must be identifiers without '_'")
            )
            continue
        item_id = str(fields.get("id", f"line{number}"))
        if item_id in seen:
            problems.append(
                Problem(file, number, "id", f"duplicate item id '{item_id}' (line {seen[item_id]})")
            )
            continue
        seen[item_id] = number
        items.append(Item(item_id, number, fields))
    if not items and not any(p.file == file for p in problems):
        problems.append(Problem(file, 1, "", "items file has no items"))
    return items


def _rung_loc(scenario: Scenario, index: int) -> Loc:
    """Where a ladder rung's text is: `turns.N` for a plain string, else `turns.N.text`."""
    loc: Loc = ("pressure", "turns", index)
    return loc if isinstance(scenario.pressure.turns[index], str) else (*loc, "text")


def question_fields(question: str | ChoiceQuestion, loc: Loc) -> list[tuple[Loc, str]]:
    """The template strings of a knowledge question at `loc`, each with its location."""
    if isinstance(question, str):
        return [(loc, question)]
    return [((*loc, "question"), question.question)] + [
        ((*loc, "choices", index), choice) for index, choice in enumerate(question.choices)
    ]


def rendered_question(
    question: str | ChoiceQuestion, loc: Loc, rendered: dict[Loc, str]
) -> RenderedQuestion:
    """A knowledge question from its rendered template strings (see `question_fields`)."""
    if isinstance(question, str):
        return RenderedQuestion(rendered[loc])
    choices = tuple(rendered[(*loc, "choices", i)] for i in range(len(question.choices)))
    return RenderedQuestion(rendered[(*loc, "question")], choices, question.correct_index)


def _same_choices(question: RenderedQuestion, loc: Loc) -> tuple[Loc, str] | None:
    """Where and why the rendered choices cannot be told apart (None when they can)."""
    empty = next((i for i, c in enumerate(question.choices) if not c.strip()), None)
    if empty is not None:
        return (*loc, "choices", empty), "renders empty: every choice needs text"
    same = duplicate_choices(question.choices)
    if same is None:
        return None
    first, second = same
    return (
        (*loc, "choices"),
        f"choices {first} and {second} render the same ('{question.choices[second].strip()}'): "
        "each choice must differ",
    )


def _template_fields(scenario: Scenario) -> list[tuple[Loc, str]]:
    """Every template string in a scenario with its field location."""
    fields: list[tuple[Loc, str]] = [(("opening",), scenario.opening)]
    if scenario.system_prompt is not None:
        fields.append((("system_prompt",), scenario.system_prompt))
    for index, rung in enumerate(scenario.pressure.ladder()):
        fields.append((_rung_loc(scenario, index), rung.text))
    persona = scenario.pressure.persona
    if persona is not None:
        fields.append((("pressure", "persona", "description"), persona.description))
        fields.append((("pressure", "persona", "goal"), persona.goal))
    if scenario.single_turn is not None:
        fields.append((("single_turn",), scenario.single_turn))
    for index, question in enumerate(scenario.knowledge):
        fields.extend(question_fields(question, ("knowledge", index)))
    if scenario.expect is not None:
        for name in ("correct", "wrong"):
            value = getattr(scenario.expect, name)
            if value is not None:
                fields.append((("expect", name), value))
        for name in ("correct_aliases", "wrong_aliases"):
            for index, alias in enumerate(getattr(scenario.expect, name)):
                fields.append((("expect", name, index), alias))
    return fields


def _item_suffix(scenario_file: ScenarioFile, item: Item | None) -> str:
    """Which item a rendering problem is about, for the message (empty without items)."""
    if item is None or scenario_file.items_path is None:
        return ""
    return f" (item '{item.id}', {display_path(scenario_file.items_path)}:{item.line})"


def render_scenario(scenario_file: ScenarioFile, item: Item | None) -> RenderedScenario:
    """Render every template of a scenario for one item (or none when it has no items).

    Raises:
        ValidationFailed: with one problem per template that fails.

    """
    scenario = scenario_file.scenario
    variables = dict(item.fields) if item is not None else {}
    file = display_path(scenario_file.path)
    problems: list[Problem] = []
    rendered: dict[Loc, str] = {}
    for loc, source in _template_fields(scenario):
        try:
            rendered[loc] = render_string(source, variables)
        except TemplateProblem as exc:
            suffix = _item_suffix(scenario_file, item)
            problems.append(
                Problem(file, scenario_file.source.line_of(loc), dotted(loc), f"{exc}{suffix}")
            )
    knowledge: list[RenderedQuestion] = []
    if not problems:
        knowledge = [
            rendered_question(question, ("knowledge", index), rendered)
            for index, question in enumerate(scenario.knowledge)
        ]
        for index, question in enumerate(knowledge):
            same = _same_choices(question, ("knowledge", index))
            if same is not None:
                loc, message = same
                suffix = _item_suffix(scenario_file, item)
                line = scenario_file.source.line_of(loc)
                problems.append(Problem(file, line, dotted(loc), f"{message}{suffix}"))
    if problems:
        raise ValidationFailed(problems)

    def get(*loc: str | int) -> str:
        return rendered[tuple(loc)]

    ladder: list[tuple[str, str | None]] = [
        (rendered[_rung_loc(scenario, index)], rung.tactic)
        for index, rung in enumerate(scenario.pressure.ladder())
    ]
    persona = None
    if scenario.pressure.persona is not None:
        persona = PersonaSpec(
            description=get("pressure", "persona", "description"),
            goal=get("pressure", "persona", "goal"),
            tactics=list(scenario.pressure.persona.tactics),
            template=scenario.pressure.persona.template,
            schedule=[step.model_dump() for step in scenario.pressure.persona.schedule],
            planning=scenario.pressure.persona.planning,
            backtracking=(
                scenario.pressure.persona.backtracking.model_dump()
                if scenario.pressure.persona.backtracking is not None
                else None
            ),
        )
    expect: dict[str, Any] | None = None
    if scenario.expect is not None:
        expect = {
            name: rendered.get(("expect", name))
            for name in ("correct", "wrong")
            if getattr(scenario.expect, name) is not None
        }
        for name in ("correct_aliases", "wrong_aliases"):
            aliases = getattr(scenario.expect, name)
            if aliases:
                expect[name] = [rendered.get(("expect", name, i)) for i in range(len(aliases))]
        if scenario.expect.tolerance is not None:
            expect["tolerance"] = scenario.expect.tolerance.model_dump(exclude_none=True)
    return RenderedScenario(
        system_prompt=rendered.get(("system_prompt",)),
        opening=get("opening"),
        ladder=ladder,
        persona=persona,
        single_turn=rendered.get(("single_turn",)),
        knowledge=knowledge,
        expect=expect,
    )


def _check_scenario_templates(scenario_file: ScenarioFile, problems: list[Problem]) -> None:
    """Syntax-check every template, then render it against every item."""
    file = display_path(scenario_file.path)
    syntax_ok = True
    for loc, source in _template_fields(scenario_file.scenario):
        try:
            check_template(source)
        except TemplateProblem as exc:
            syntax_ok = False
            problems.append(Problem(file, scenario_file.source.line_of(loc), dotted(loc), str(exc)))
    if not syntax_ok:
        return
    reported: set[tuple[str, int]] = set()
    items: list[Item | None] = list(scenario_file.items) or [None]
    if scenario_file.scenario.items is not None and not scenario_file.items:
        return  # the items file's own problem was reported already
    rendered = None
    for item in items:
        try:
            rendered = render_scenario(scenario_file, item)
            scenario_file.rendered[item.id if item else None] = rendered
        except ValidationFailed as exc:
            for problem in exc.problems:
                # One report per field and line is enough; the first failing item names itself.
                if (problem.path, problem.line) not in reported:
                    reported.add((problem.path, problem.line))
                    problems.append(problem)
    persona = rendered.persona if rendered is not None else None
    if persona is not None:
        variables = attacker_variables(
            persona,
            scenario_file.scenario.id,
            scenario_file.scenario.description,
            2,
            5,
            [],
            tactic={"name": "t", "description": "d", "instruction": "i"},
            failed_attempts=[{"tactic": "t", "message": "m"}],
            notes="n",
        )
        try:
            render_attacker(persona, variables, scenario_file.path.parent)
        except TemplateProblem as exc:
            problems.append(
                Problem(
                    file,
                    scenario_file.line_of("pressure", "persona", "template"),
                    "pressure.persona.template",
                    str(exc),
                )
            )


def load_scenario_file(path: Path, problems: list[Problem]) -> ScenarioFile | None:
    """Load one scenario and its items; append problems and return None when invalid."""
    loaded = load_model(path, Scenario, problems)
    if loaded is None:
        return None
    scenario, source = loaded
    items: list[Item] = []
    items_path = None
    if scenario.items is not None:
        items_path = (path.parent / scenario.items).resolve()
        where = Problem(display_path(path), source.line_of(("items",)), "items", "")
        before = len(problems)
        items = load_items(items_path, problems, where)
        if len(problems) > before:
            return None
    scenario_file = ScenarioFile(path, scenario, source, items, items_path)
    before = len(problems)
    _check_scenario_templates(scenario_file, problems)
    return scenario_file if len(problems) == before else None


def _check_tactics(
    scenario_file: ScenarioFile, problems: list[Problem], loaded: dict[Path, bool]
) -> bool:
    """Every tactic the scenario names must be a valid file of its tactic library."""
    scenario = scenario_file.scenario
    file = display_path(scenario_file.path)
    named: list[tuple[Loc, str]] = [
        (("pressure", "turns", i, "tactic"), rung.tactic)
        for i, rung in enumerate(scenario.pressure.ladder())
        if rung.tactic is not None
    ]
    persona = scenario.pressure.persona
    if persona is not None:
        named += [(("pressure", "persona", "tactics", i), t) for i, t in enumerate(persona.tactics)]
    ok = True
    for loc, name in named:
        path = find_tactic(name, scenario_file.path.parent)
        if path is None:
            problems.append(
                Problem(
                    file,
                    scenario_file.source.line_of(loc),
                    dotted(loc),
                    f"unknown tactic '{name}': no tactics/{name}.yaml beside or above the "
                    "scenario, nor in the bundled scenarios/tactics/",
                )
            )
            ok = False
            continue
        path = path.resolve()
        if path not in loaded:
            loaded[path] = load_tactic_file(path, problems) is not None
        ok = ok and loaded[path]
    return ok


def _check_resistance_template(
    scenario_file: ScenarioFile, graders: Path, problems: list[Problem]
) -> bool:
    """A grader-checked backtracking persona's template must render."""
    persona = scenario_file.scenario.pressure.persona
    backtracking = persona.backtracking if persona is not None else None
    if backtracking is None or backtracking.check != "grader":
        return True
    try:
        render_resistance_check(backtracking.template, SAMPLE_RESISTANCE_VARIABLES, graders)
    except TemplateProblem as exc:
        loc = ("pressure", "persona", "backtracking", "template")
        problems.append(
            Problem(
                display_path(scenario_file.path),
                scenario_file.source.line_of(loc),
                dotted(loc),
                str(exc),
            )
        )
        return False
    return True


def load_rubric_file(path: Path, problems: list[Problem]) -> RubricFile | None:
    """Load one rubric and render its templates against a sample transcript."""
    loaded = load_model(path, Rubric, problems)
    if loaded is None:
        return None
    rubric, source = loaded
    file = display_path(path)
    before = len(problems)
    if rubric.trait != path.stem:
        problems.append(
            Problem(
                file, source.line_of(("trait",)), "trait", f"must match the file name '{path.stem}'"
            )
        )
    variables = grader_variables(
        rubric, {"id": "x/y", "description": "d"}, SAMPLE_TURNS, {"correct": "4", "wrong": "5"}
    )
    renders: list[tuple[str, Callable[[], str]]] = [
        ("prefix_template", lambda: render_grader_prefix(rubric, path.parent)),
        ("template", lambda: render_grader(rubric, variables, path.parent)),
        ("retry_template", lambda: render_grader_retry(rubric, "error", 2, path.parent)),
        (
            "extraction_template",
            lambda: render_extraction(
                rubric,
                extraction_variables("What is 2 + 2?", {"correct": "4", "wrong": "5"}, [(2, "4")]),
                path.parent,
            ),
        ),
    ]
    renders += _knowledge_renders(rubric, path.parent)
    results: dict[Loc, str] = {}
    for field_name, render in renders:
        loc = tuple(int(p) if p.isdigit() else p for p in field_name.split("."))
        try:
            results[loc] = render()
        except TemplateProblem as exc:
            problem = Problem(file, source.line_of(loc), field_name, str(exc))
            if problem not in problems:
                problems.append(problem)
    if len(problems) != before:
        return None
    probes = [
        rendered_question(probe, ("knowledge", "probes", index), results)
        for index, probe in enumerate(rubric.knowledge.probes if rubric.knowledge else [])
    ]
    for index, probe in enumerate(probes):
        same = _same_choices(probe, ("knowledge", "probes", index))
        if same is not None:
            loc, message = same
            problems.append(Problem(file, source.line_of(loc), dotted(loc), message))
    return RubricFile(path, rubric, source, probes) if len(problems) == before else None


def _knowledge_renders(rubric: Rubric, graders: Path) -> list[tuple[str, Callable[[], str]]]:
    """The knowledge section's templates and probes, each as (field, render it)."""
    knowledge = rubric.knowledge
    if knowledge is None:
        return []
    renders: list[tuple[str, Callable[[], str]]] = [
        (
            "knowledge.template",
            lambda: render_knowledge(rubric, "Why?", "Because.", graders, error=""),
        )
    ]
    renders += [
        ("knowledge.choice_template", partial(render_choices, rubric, question, graders))
        for question in SAMPLE_CHOICE_QUESTIONS
    ]
    for index, probe in enumerate(knowledge.probes):
        for loc, text in question_fields(probe, ("knowledge", "probes", index)):
            renders.append((dotted(loc), partial(render_string, text, {})))
    return renders


def _yaml_files(path: Path) -> Iterable[Path]:
    if path.is_file():
        yield path
        return
    for candidate in sorted(path.rglob("*")):
        relative = candidate.relative_to(path).parts
        if any(part in NON_SCENARIO_DIRS or part.startswith((".", "_")) for part in relative[:-1]):
            continue
        if candidate.is_file() and candidate.suffix in (".yaml", ".yml"):
            yield candidate


def load_catalogue(
    scenario_paths: Iterable[Path] | None = None,
    graders: Path | None = None,
    traits: Iterable[str] | None = None,
) -> Catalogue:
    """Load scenarios (files or folders, default the bundled set) and the rubrics they use.

    Every file is read and every problem gathered before anything is raised.

    Raises:
        ValidationFailed: with all problems, sorted by file and line.

    """
    graders = graders or graders_dir()
    problems: list[Problem] = []
    catalogue = Catalogue(graders_dir=graders)
    paths = list(scenario_paths) if scenario_paths else [scenarios_dir()]
    scenario_files: list[Path] = []
    for path in paths:
        if not path.exists():
            problems.append(Problem(display_path(path), 1, "", "no such file or folder"))
            continue
        scenario_files.extend(_yaml_files(path))
    for path in sorted(graders.glob("*.yaml")) if graders.is_dir() else []:
        rubric_file = load_rubric_file(path, problems)
        if rubric_file is not None:
            catalogue.rubrics[rubric_file.rubric.trait] = rubric_file
    rubric_stems = {p.stem for p in graders.glob("*.yaml")} if graders.is_dir() else set()
    seen_ids: dict[str, str] = {}
    loaded_tactics: dict[Path, bool] = {}
    wanted = set(traits) if traits else None
    for path in dict.fromkeys(p.resolve() for p in scenario_files):
        scenario_file = load_scenario_file(path, problems)
        if scenario_file is None:
            continue
        scenario = scenario_file.scenario
        file = display_path(path)
        if scenario.id in seen_ids:
            problems.append(
                Problem(
                    file,
                    scenario_file.line_of("id"),
                    "id",
                    f"duplicate scenario id '{scenario.id}' (also in {seen_ids[scenario.id]})",
                )
            )
            continue
        seen_ids[scenario.id] = file
        tactics_ok = _check_tactics(scenario_file, problems, loaded_tactics)
        if not (_check_resistance_template(scenario_file, graders, problems) and tactics_ok):
            continue
        rubric_problem = _rubric_problem(scenario_file, catalogue, rubric_stems)
        if rubric_problem is not None:
            problems.append(rubric_problem)
            continue
        if wanted is None or scenario.trait in wanted:
            catalogue.scenarios.append(scenario_file)
    catalogue.tactic_files = _check_tactic_libraries(catalogue, loaded_tactics, problems)
    if wanted is not None:
        known = {s.scenario.trait for s in catalogue.scenarios}
        for trait in sorted(wanted - known):
            problems.append(Problem("<traits>", 1, "", f"no scenarios for trait '{trait}'"))
    if problems:
        raise ValidationFailed(problems)
    return catalogue


def _rubric_problem(
    scenario_file: ScenarioFile, catalogue: Catalogue, rubric_stems: set[str]
) -> Problem | None:
    """What is wrong between a scenario and its trait's rubric (missing, no knowledge part)."""
    scenario, file, graders = (
        scenario_file.scenario,
        display_path(scenario_file.path),
        catalogue.graders_dir,
    )
    if scenario.trait not in rubric_stems:
        return Problem(
            file,
            scenario_file.line_of("trait"),
            "trait",
            f"no rubric for trait '{scenario.trait}' "
            f"(expected {display_path(graders / (scenario.trait + '.yaml'))})",
        )
    rubric_file = catalogue.rubrics.get(scenario.trait)
    if scenario.knowledge and rubric_file is not None and rubric_file.rubric.knowledge is None:
        return Problem(
            file,
            scenario_file.line_of("knowledge"),
            "knowledge",
            f"the rubric for '{scenario.trait}' has no 'knowledge' section to grade "
            f"these questions ({display_path(rubric_file.path)})",
        )
    return None


def _check_tactic_libraries(
    catalogue: Catalogue, loaded_tactics: dict[Path, bool], problems: list[Problem]
) -> list[Path]:
    """Check every file of the tactic libraries in reach, not only the tactics in use.

    Returns the valid tactic files (those already loaded for scenarios included).
    """
    folders = {f for s in catalogue.scenarios for f in tactic_folders(s.path.parent)}
    for folder in sorted(folders or tactic_folders(None)):
        for path in sorted(folder.glob("*.yaml")):
            path = path.resolve()
            if path not in loaded_tactics:
                loaded_tactics[path] = load_tactic_file(path, problems) is not None
    return sorted(p for p, ok in loaded_tactics.items() if ok)
