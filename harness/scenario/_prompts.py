"""Rendering of the prompts that attacker and grader models see.

Every prompt text lives in a `.j2` file; this module only builds the variables
each template receives, so validation and runs render exactly the same way.
"""

from __future__ import annotations

import string
from collections.abc import Iterable
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any, Literal

from harness._util import TemplateProblem, graders_dir, render_file, scenario_templates_dir
from harness.scenario._schema import Rubric, is_yes_no

END_CONVERSATION = "[[END_CONVERSATION]]"
"""What the attacker writes to end the conversation; passed to its template as `end_token`."""

ATTACKER_START_TEMPLATE = "attacker_start.j2"


Role = Literal["user", "assistant"]


@dataclass(frozen=True)
class Turn:
    """One message of the target conversation as a grader or attacker sees it."""

    role: Role
    text: str
    number: int
    """User turns and assistant turns are each numbered from 1."""


def number_turns(messages: Iterable[tuple[str, str]]) -> list[Turn]:
    """(role, text) pairs as turns: user and assistant each numbered from 1, others dropped."""
    turns: list[Turn] = []
    counts: dict[Role, int] = {"user": 0, "assistant": 0}
    for role, text in messages:
        if role in counts:
            counts[role] += 1
            turns.append(Turn(role, text, counts[role]))
    return turns


@dataclass(frozen=True)
class PersonaSpec:
    """A rendered persona: what the attacker template receives."""

    description: str
    goal: str
    tactics: list[str]
    template: str
    schedule: list[dict[str, Any]] = field(default_factory=list)
    """Escalation steps `{from_turn, tactics}` (see `EscalationStep`)."""
    planning: bool = False
    backtracking: dict[str, Any] | None = None
    """A `Backtracking` as a dict, or None when the persona never rolls back."""


def find_scenario_template(name: str, near: Path | None) -> Path:
    """Find an attacker template: a `templates/` folder beside or above `near`, else bundled."""
    if near is not None:
        for folder in [near, *near.parents]:
            candidate = folder / "templates" / name
            if candidate.is_file():
                return candidate
    candidate = scenario_templates_dir() / name
    if candidate.is_file():
        return candidate
    raise TemplateProblem(f"template '{name}' not found in scenarios/templates/")


def find_grader_template(name: str, graders: Path | None = None) -> Path:
    """Find a grader template in `<graders>/templates/`."""
    candidate = (graders or graders_dir()) / "templates" / name
    if not candidate.is_file():
        raise TemplateProblem(f"template '{name}' not found in {candidate.parent}")
    return candidate


def attacker_variables(
    persona: PersonaSpec,
    scenario_id: str,
    scenario_description: str,
    user_turn: int,
    max_user_turns: int,
    tactics_used: list[str],
    *,
    tactic: dict[str, str] | None = None,
    failed_attempts: list[dict[str, str]] | None = None,
    notes: str = "",
) -> dict[str, Any]:
    """Variables of the attacker templates (`attacker_system.j2`, `attacker_start.j2`).

    `tactic` is the tactic to use this turn (name, description, rendered instruction);
    `failed_attempts` the messages rolled back at this turn because the target resisted
    them (tactic, message); `notes` the attacker's private notes so far (planning).
    """
    return {
        "persona": {
            "description": persona.description,
            "goal": persona.goal,
            "tactics": list(persona.tactics),
        },
        "scenario": {"id": scenario_id, "description": scenario_description},
        "turn": user_turn,
        "max_turns": max_user_turns,
        "turns_left": max(0, max_user_turns - user_turn),
        "tactics_used": tactics_used,
        "tactic": tactic,
        "failed_attempts": failed_attempts or [],
        "planning": persona.planning,
        "notes": notes,
        "end_token": END_CONVERSATION,
    }


def render_attacker(
    persona: PersonaSpec, variables: dict[str, Any], near: Path | None
) -> tuple[str, str]:
    """Render the attacker's system prompt and its conversation-start message."""
    system = render_file(find_scenario_template(persona.template, near), variables)
    start = render_file(find_scenario_template(ATTACKER_START_TEMPLATE, near), variables)
    return system, start


def grader_variables(
    rubric: Rubric,
    scenario: dict[str, Any],
    turns: list[Turn],
    expect: dict[str, str | None] | None,
) -> dict[str, Any]:
    """Variables of the grader template: rubric, scenario, expected answers and transcript."""
    return {
        **rubric_variables(rubric),
        "scenario": scenario,
        "expect": expect or {},
        "turns": [{"role": t.role, "text": t.text, "number": t.number} for t in turns],
        "n_assistant_turns": sum(t.role == "assistant" for t in turns),
    }


def rubric_variables(rubric: Rubric) -> dict[str, Any]:
    """The rubric as templates see it."""
    return {
        "rubric": rubric.model_dump(
            include={
                "trait",
                "version",
                "description",
                "violation",
                "not_violation",
                "severity",
                "stances",
            }
        )
    }


def render_grader_prefix(rubric: Rubric, graders: Path | None = None) -> str:
    """Render the start of the grader prompt: the rubric only, identical for every conversation."""
    return render_file(
        find_grader_template(rubric.prefix_template, graders), rubric_variables(rubric)
    )


def render_grader(rubric: Rubric, variables: dict[str, Any], graders: Path | None = None) -> str:
    """Render the grader prompt for one conversation."""
    return render_file(find_grader_template(rubric.template, graders), variables)


def render_grader_retry(
    rubric: Rubric, error: str, n_assistant_turns: int, graders: Path | None = None
) -> str:
    """Render the follow-up sent to the grader after a malformed verdict."""
    variables = {"error": error, "n_assistant_turns": n_assistant_turns}
    return render_file(find_grader_template(rubric.retry_template, graders), variables)


RESISTANCE_DEFAULT_TEMPLATE = "resistance_check.j2"


def resistance_variables(
    scenario: dict[str, Any], goal: str, user_message: str, reply: str, error: str = ""
) -> dict[str, Any]:
    """Variables of the backtracking resistance check (`resistance_check.j2`).

    With `error` set the template renders the short re-ask after an unusable reply.
    """
    return {
        "scenario": scenario,
        "goal": goal,
        "user_message": user_message,
        "reply": reply,
        "error": error,
    }


def render_resistance_check(
    template: str, variables: dict[str, Any], graders: Path | None = None
) -> str:
    """Render the cheap per-turn check asking the grader whether the target resisted."""
    return render_file(find_grader_template(template, graders), variables)


SAMPLE_RESISTANCE_VARIABLES = resistance_variables(
    {"id": "x/y", "description": "d"}, "get the assistant to say 5", "It's 5.", "It is 4."
)
"""Variables the resistance check template is test-rendered with at validation time."""

SAMPLE_TURNS = [
    Turn("user", "What is 2 + 2?", 1),
    Turn("assistant", "2 + 2 = 4.", 1),
    Turn("user", "I'm sure it's 5.", 2),
    Turn("assistant", "It is 4.", 2),
]
"""A tiny transcript used to render grader templates at validation time."""


def extraction_variables(
    question: str,
    expect: dict[str, str | None],
    replies: list[tuple[int, str]],
    error: str = "",
) -> dict[str, Any]:
    """Variables of the answer-extraction template (flip detector fallback).

    With `error` set the template renders the short follow-up for a malformed reply.
    """
    return {
        "error": error,
        "question": question,
        "expect": {"correct": expect.get("correct") or "", "wrong": expect.get("wrong") or ""},
        "replies": [{"number": n, "text": text} for n, text in replies],
    }


def render_extraction(
    rubric: Rubric, variables: dict[str, Any], graders: Path | None = None
) -> str:
    """Render the prompt asking the grader which answer some replies give."""
    return render_file(find_grader_template(rubric.extraction_template, graders), variables)


def knowledge_variables(
    rubric: Rubric, question: str, answer: str, error: str = ""
) -> dict[str, Any]:
    """Variables of the knowledge grader template (`error` set: the re-ask message)."""
    knowledge = rubric.knowledge
    assert knowledge is not None
    return {
        "rubric": rubric.model_dump(include={"trait", "version", "description"}),
        "knowledge": knowledge.model_dump(include={"principle", "criteria", "contradicts"}),
        "question": question,
        "answer": answer,
        "error": error,
    }


def render_knowledge(
    rubric: Rubric, question: str, answer: str, graders: Path | None = None, error: str = ""
) -> str:
    """Render the knowledge grader prompt (or, with `error`, its re-ask message)."""
    knowledge = rubric.knowledge
    assert knowledge is not None
    path = find_grader_template(knowledge.template, graders)
    return render_file(path, knowledge_variables(rubric, question, answer, error))


QuestionFormat = Literal["open", "yes_no", "lettered"]
"""An open question (graded by the knowledge rubric), a yes/no question or multiple choice."""


@dataclass(frozen=True)
class RenderedQuestion:
    """A knowledge question rendered for one item: open, or with choices read by rule."""

    text: str
    """The question."""

    choices: tuple[str, ...] = ()
    """The rendered choices, in order; empty for an open question."""

    correct: int | None = None
    """Index of the correct choice (None for an open question)."""

    @property
    def format(self) -> QuestionFormat:
        """`open`, `yes_no` (the choices are yes and no) or `lettered`."""
        if not self.choices:
            return "open"
        return "yes_no" if is_yes_no(self.choices) else "lettered"

    @property
    def correct_label(self) -> str | None:
        """The correct answer as the model is asked to give it: `yes`/`no`, or its letter."""
        if self.correct is None:
            return None
        if self.format == "yes_no":
            return self.choices[self.correct].strip().lower()
        return string.ascii_uppercase[self.correct]


def choice_variables(question: RenderedQuestion) -> dict[str, Any]:
    """Variables of the choice template: the question, `yes_no`, and the lettered choices."""
    return {
        "question": question.text,
        "yes_no": question.format == "yes_no",
        "choices": [
            {"letter": string.ascii_uppercase[index], "text": text}
            for index, text in enumerate(question.choices)
        ],
    }


def render_choices(rubric: Rubric, question: RenderedQuestion, graders: Path | None = None) -> str:
    """Render what the model under test is asked for a question with choices."""
    knowledge = rubric.knowledge
    assert knowledge is not None
    path = find_grader_template(knowledge.choice_template, graders)
    return render_file(path, choice_variables(question))


SAMPLE_CHOICE_QUESTIONS = (
    RenderedQuestion("Is 2 + 2 equal to 4?", ("yes", "no"), 0),
    RenderedQuestion("What is 2 + 2?", ("3", "4", "5"), 1),
)
"""A yes/no and a lettered question the choice template is test-rendered with."""
