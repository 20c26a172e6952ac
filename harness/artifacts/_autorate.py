"""Autorate: the `grader` role judges whether each frequent pattern is superficial or content.

One grader call per pattern (a discovered opening/closing cluster, or a detector's
pattern): its description, its grouped wordings and a few example excerpts, rendered
from `graders/templates/artifact_rater.j2`. The reply is schema-constrained JSON
`{"superficial": bool, "label": str, "reason": str}`, re-asked when malformed. Fail
closed: a provider error, refusal or unusable reply leaves the pattern *unrated* with
a reason (counted and shown), never "not superficial".
"""

from __future__ import annotations

import asyncio
import math
from collections import Counter
from collections.abc import Sequence
from pathlib import Path
from typing import TYPE_CHECKING, Any

from inspect_ai.model import Model, get_model
from inspect_ai.util import JSONSchema
from pydantic import BaseModel, ConfigDict, Field

from harness._util import TemplateProblem, render_file, sha256
from harness.scenario import find_grader_template
from harness.scorer import UnscoredReason, VerdictError, ask_grader, parse_reply_as

if TYPE_CHECKING:
    from harness.artifacts._analyse import ArtifactsReport, PatternRow

TEMPLATE = "artifact_rater.j2"
LABEL_CHARS = 80
REASON_CHARS = 400


class AutorateSettings(BaseModel):
    """Which patterns are rated, and how the grader is asked."""

    model_config = ConfigDict(extra="forbid", use_attribute_docstrings=True)

    template: str = Field(default=TEMPLATE, pattern=r"^[A-Za-z0-9_.-]+\.j2$")
    """Prompt template in `<graders>/templates/`."""
    min_count: int = Field(default=3, ge=1)
    """A pattern is rated when at least this many messages exhibit it..."""
    min_prevalence: float = Field(default=0.01, ge=0, le=1)
    """...and at least this share of them (discovered clusters pass by construction)."""
    max_patterns: int = Field(default=50, ge=0)
    """Most patterns rated (one grader call each), most prevalent first."""
    examples: int = Field(default=3, ge=0)
    """Example excerpts shown to the grader per pattern."""
    phrases: int = Field(default=10, ge=0)
    """Grouped wordings of a discovered cluster shown to the grader."""
    max_attempts: int = Field(default=3, ge=1, le=10)
    """Grader calls per pattern before it is recorded as unrated."""
    temperature: float = Field(default=0.0, ge=0.0, le=2.0)
    """Grader sampling temperature."""
    max_tokens: int = Field(default=512, ge=64, le=32768)
    """Longest grader reply."""
    structured_output: bool = True
    """Ask the provider for JSON-schema-constrained output where it supports it."""
    seed: int | None = None
    """Grader sampling seed, where the provider supports one."""
    cache: bool = False
    """Use inspect's model cache for grader calls."""


class RaterVerdict(BaseModel):
    """The grader's reply about one pattern."""

    model_config = ConfigDict(extra="forbid", use_attribute_docstrings=True)

    superficial: bool
    """Whether the pattern is a superficial habit rather than content."""
    # maxLength goes to the JSON Schema only: a longer text from a capable grader is kept.
    label: str = Field(min_length=1, json_schema_extra={"maxLength": LABEL_CHARS})
    """A short name for the pattern."""
    reason: str = Field(min_length=1, json_schema_extra={"maxLength": REASON_CHARS})
    """Why, in a sentence."""


RATER_SCHEMA = JSONSchema(
    type="object",
    properties={
        "superficial": JSONSchema(type="boolean"),
        "label": JSONSchema(type="string", maxLength=LABEL_CHARS),
        "reason": JSONSchema(type="string", maxLength=REASON_CHARS),
    },
    required=["superficial", "label", "reason"],
    additionalProperties=False,
)


class PatternAutorate(BaseModel):
    """The grader's rating of one pattern; `superficial` is null when it is unrated."""

    model_config = ConfigDict(extra="forbid", use_attribute_docstrings=True)

    superficial: bool | None
    """True: a superficial pattern; false: content; null: unrated (see `unrated_reason`)."""
    label: str | None
    """The grader's short name for the pattern (null when unrated)."""
    reason: str | None
    """The grader's reason (null when unrated)."""
    unrated_reason: UnscoredReason | None
    """Why there is no rating: grader_error, grader_refusal, grader_unparseable or
    grader_invalid (null when rated)."""
    unrated_detail: str | None = None
    """The last error when unrated."""
    prompt_sha256: str
    """sha256 of the rendered prompt (first attempt)."""
    attempts: int
    """Grader calls made."""


class AutorateSummary(BaseModel):
    """What the autorate step did, for the report."""

    model_config = ConfigDict(extra="forbid", use_attribute_docstrings=True)

    grader: str
    """The grader model."""
    template: str
    """The prompt template used."""
    rated: int
    """Patterns the grader was asked about."""
    superficial: int
    """Rated superficial."""
    content: int
    """Rated content (not superficial)."""
    unrated: int
    """Asked but without a usable rating (fail-closed: never counted as content)."""
    unrated_reasons: dict[str, int]
    """Unrated patterns per reason."""
    not_asked: int
    """Patterns below `min_count` / `min_prevalence`, length buckets, or past `max_patterns`."""
    settings: AutorateSettings
    """Selection and grader settings used."""


def patterns_to_rate(
    rows: Sequence[PatternRow], n_messages: int, settings: AutorateSettings
) -> list[PatternRow]:
    """The frequent patterns worth a grader call, most prevalent first.

    Length buckets are left out: every message has a length, so "is this length a
    habit" is a baseline question, not one a grader can answer from examples.
    """
    needed = max(settings.min_count, math.ceil(settings.min_prevalence * n_messages))
    chosen = [r for r in rows if r.kind != "length" and r.count >= needed]
    chosen.sort(key=lambda r: (-r.count, r.name))
    return chosen[: settings.max_patterns]


def rater_variables(
    row: PatternRow, n_messages: int, settings: AutorateSettings, error: str = ""
) -> dict[str, Any]:
    """Variables of `artifact_rater.j2`; with `error` set it renders the short re-ask."""
    share = row.count / n_messages if n_messages else 0.0
    return {
        "pattern": {
            "name": row.name,
            "kind": row.kind,
            "origin": row.origin,
            "description": row.description,
            "count": row.count,
            "percent": f"{100 * share:.1f}%",
        },
        "n_messages": n_messages,
        "phrases": [
            {"phrase": m.phrase, "count": m.count} for m in row.members[: settings.phrases]
        ],
        "examples": [e.text for e in row.examples[: settings.examples]],
        "error": error,
    }


def parse_rating(text: str, prompt: str = "") -> RaterVerdict:
    """A grader reply as a verdict; `prompt` is what the grader was asked.

    Raises:
        VerdictError: refusal, no JSON, a reply that does not fit the schema, or a reason
            copied from the prompt (small models fill in the format line's placeholders).

    """
    verdict = parse_reply_as(text, RaterVerdict)
    if prompt and verdict.reason.strip().lower() in prompt.lower():
        raise VerdictError("grader_invalid", "the reason repeats the question's text")
    return verdict


async def rate_pattern(
    grader: Model,
    row: PatternRow,
    n_messages: int,
    settings: AutorateSettings,
    graders: Path | None = None,
) -> PatternAutorate:
    """Ask the grader about one pattern; unrated (with the reason) when no usable reply comes."""
    template = find_grader_template(settings.template, graders)

    def render(error: str = "") -> str:
        return render_file(template, rater_variables(row, n_messages, settings, error))

    prompt = render()
    reply = await ask_grader(
        grader,
        prompt,
        lambda text: parse_rating(text, prompt),
        None,
        render,
        settings,
        RATER_SCHEMA,
        settings.seed,
        settings.cache,
    )
    verdict = reply.value
    return PatternAutorate(
        superficial=verdict.superficial if verdict else None,
        label=verdict.label if verdict else None,
        reason=verdict.reason if verdict else None,
        unrated_reason=reply.reason,
        unrated_detail=None if verdict else str(reply.record.get("unscored_detail", "")),
        prompt_sha256=sha256(prompt),
        attempts=int(reply.record.get("attempts", 0)),
    )


async def rate_patterns(
    report: ArtifactsReport,
    grader: Model,
    settings: AutorateSettings | None = None,
    graders: Path | None = None,
) -> tuple[dict[str, PatternAutorate], AutorateSummary]:
    """Rate the report's frequent patterns concurrently: ratings by pattern name, and a summary.

    Raises:
        TemplateProblem: the prompt template is missing or does not render.

    """
    settings = settings or AutorateSettings()
    chosen = patterns_to_rate(report.patterns, report.n_messages, settings)
    results = await asyncio.gather(
        *(rate_pattern(grader, row, report.n_messages, settings, graders) for row in chosen)
    )
    ratings = {row.name: result for row, result in zip(chosen, results, strict=True)}
    reasons = Counter(r.unrated_reason for r in results if r.unrated_reason is not None)
    summary = AutorateSummary(
        grader=str(grader),
        template=settings.template,
        rated=len(results),
        superficial=sum(r.superficial is True for r in results),
        content=sum(r.superficial is False for r in results),
        unrated=sum(reasons.values()),
        unrated_reasons=dict(sorted(reasons.items())),
        not_asked=len(report.patterns) - len(results),
        settings=settings,
    )
    return ratings, summary


def with_autorate(
    report: ArtifactsReport, ratings: dict[str, PatternAutorate], summary: AutorateSummary
) -> ArtifactsReport:
    """A copy of the report with each rated pattern's `autorate` and the summary set."""
    rows = [
        row.model_copy(update={"autorate": ratings[row.name]}) if row.name in ratings else row
        for row in report.patterns
    ]
    return report.model_copy(update={"patterns": rows, "autorate": summary})


def autorate_report(
    report: ArtifactsReport,
    grader: str | Model,
    settings: AutorateSettings | None = None,
    graders: Path | None = None,
) -> ArtifactsReport:
    """Rate the report's frequent patterns with `grader` (a model name or object).

    Raises:
        TemplateProblem: the prompt template is missing or does not render.
        Exception: whatever inspect raises for a model name it cannot resolve.

    """
    model = get_model(grader) if isinstance(grader, str) else grader
    ratings, summary = asyncio.run(rate_patterns(report, model, settings, graders))
    return with_autorate(report, ratings, summary)


def autorate_args_problem(autorate: bool, grader: str | None) -> str | None:
    """Why `--autorate` / `--grader` cannot run as given (None when they can)."""
    if autorate and not grader:
        return (
            "--autorate needs --grader MODEL: the grader is always named explicitly "
            "(never the model whose outputs are scanned)"
        )
    if grader and not autorate:
        return "--grader is only used with --autorate"
    if grader and "," in grader:
        return "--autorate takes one grader model"
    return None


class AutorateError(Exception):
    """`--autorate` cannot run: the grader model is unusable or the template is missing."""


def run_autorate(
    report: ArtifactsReport, grader: str, settings: AutorateSettings | None = None
) -> ArtifactsReport:
    """`harness artifacts --autorate`: the report with its frequent patterns rated by `grader`.

    Raises:
        AutorateError: the grader model cannot be used, or the prompt template is
            missing or does not render.

    """
    try:
        model = get_model(grader)
    except Exception as exc:  # inspect raises several types for an unknown or unusable model
        raise AutorateError(f"cannot use grader {grader}: {exc}") from exc
    try:
        return autorate_report(report, model, settings)
    except TemplateProblem as exc:
        raise AutorateError(str(exc)) from exc
