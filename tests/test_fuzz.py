"""Fuzzing: hostile scenario and rubric files, and hostile grader and target outputs.

Scenario and rubric YAML (structured mutations of the bundled files, and raw garbage)
must load or fail with the harness's own `ValidationFailed`, every problem naming a
file, a line and a field; any other exception fails the test. Grader replies must end
as a verdict or as unscored with a reason, and a verdict may only say "no violation"
when the reply really was a well-formed verdict in which every turn held. The flip
detector must never raise on any reply.

Every strategy is derandomised, so a failure reproduces in CI.
"""

from __future__ import annotations

import asyncio
import copy
import json
import math
import os
import re
import shutil
import subprocess
import sys
from collections.abc import Callable, Iterator
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any, get_args

import pytest
import yaml
from hypothesis import HealthCheck, Phase, assume, example, given, seed, settings
from hypothesis import strategies as st

from harness._util import NON_SCENARIO_DIRS, Problem, ValidationFailed
from harness.scenario import Turn, load_catalogue, load_rubric_file
from harness.scorer import (
    RubricSet,
    UnscoredReason,
    VerdictError,
    detect_flips,
    grade_conversation,
    outcome_from_verdict,
    parse_verdict,
)
from harness.scorer._flip import RESOLVED_CLASSES, parse_extraction
from harness.scorer._knowledge import parse_knowledge_verdict
from harness.scorer.flip import ExpectedAnswers, classify_trajectory, extract_answers
from harness.task import build_samples
from tests.conftest import REPO, mock_model

GRADERS = REPO / "graders"
SCENARIO_FILES = sorted(
    p for p in (REPO / "scenarios").glob("*/*.yaml") if p.parent.name not in NON_SCENARIO_DIRS
)
RUBRIC_FILES = sorted(GRADERS.glob("*.yaml"))
UNSCORED_REASONS = frozenset(get_args(UnscoredReason))


# HARNESS_FUZZ_SCALE=N runs N times the examples with fresh randomness: a deeper local
# search. CI runs the default, derandomised and reproducible.
FUZZ_SCALE = max(1, int(os.environ.get("HARNESS_FUZZ_SCALE", "1")))


def fuzz_settings(max_examples: int) -> settings:
    """Small, reproducible budgets: the whole file runs in well under a minute.

    No shrinking: a failing example is already reproducible (derandomised), and
    shrinking a large YAML file can take minutes.
    """
    return settings(
        max_examples=max_examples * FUZZ_SCALE,
        deadline=None,
        derandomize=FUZZ_SCALE == 1,
        database=None,
        phases=[Phase.explicit, Phase.generate],
        suppress_health_check=[
            HealthCheck.too_slow,
            HealthCheck.data_too_large,
            HealthCheck.filter_too_much,
            HealthCheck.function_scoped_fixture,  # only the autouse offline patch
        ],
    )


# ---------------------------------------------------------------- mutations of YAML files

Loc = tuple[str | int, ...]

JUNK = st.one_of(
    st.none(),
    st.booleans(),
    st.integers(),
    st.integers(min_value=10**30, max_value=10**40),
    st.floats(allow_nan=True, allow_infinity=True),
    st.text(max_size=20),
    st.sampled_from(["", " ", "\t", "\u202e\u200b", "ß🙂\u0301", "x" * 100_000, "\x00", "---"]),
    st.lists(st.integers(), max_size=3),
    st.dictionaries(st.text(max_size=6), st.integers(), max_size=3),
)
BAD_TEMPLATES = [
    "{{",
    "{{ question",
    "{% if %}",
    "{% for x in %}{% endfor %}",
    "{% endif %}",
    "{# not closed",
    "{{ undefined_variable }}",
    "{{ question|no_such_filter }}",
    "{{ ''.__class__.__mro__ }}",
    "{{ cycler.__init__.__globals__ }}",
    "{{ x|attr('_' ~ '_class__') }}",
    "{{ '{0.__class__}'.format(1) }}",
    "{% include 'other.j2' %}",
    "{% import 'os' as os %}",
    "{{ range(10**9)|list }}",
    "{% for i in range(99999) %}{% for j in range(99999) %}{% endfor %}{% endfor %}",
    "{{ 'a' * 10**10 }}",
    "{{ 10**(10**10) }}",
    "{{ 1/0 }}",
    "{{ [].pop() }}",
    "{{ lipsum(10**7) }}",
    "{{ config.items() }}",
    "{{ request }}",
    "{{ " + "(" * 300 + "1" + ")" * 300 + " }}",
    "{% if x %}" * 120 + "{% endif %}" * 120,
    "{{ x" + "|upper" * 500 + " }}",
]
TEMPLATE_TEXT = st.one_of(
    st.sampled_from(BAD_TEMPLATES),
    st.text(alphabet="{}%#-+~*|()[]'\"._ ab019\n", max_size=30),
)
ITEMS_LINES = st.one_of(
    st.builds(
        lambda q, a: json.dumps({"question": q, "answer": a, "wrong_answer": a + "!"}),
        st.text(max_size=20),
        st.text(max_size=10),
    ),
    st.sampled_from(
        [
            "{not json",
            "[1, 2]",
            '"a string"',
            "null",
            '{"_private": 1}',
            '{"not an identifier": 1}',
            '{"id": "dup"}',
            '{"id": {"nested": [1]}}',
            "[" * 5000 + "]" * 5000,
            '{"n": ' + "9" * 5000 + "}",
            "\ufeff{}",
        ]
    ),
    st.text(max_size=40),
)
ROOTS = [
    "- a\n- b\n",
    "42\n",
    "'just a string'\n",
    "null\n",
    "",
    "---\n...\n",
    "[1, 2",
    "{a: 1}\n---\n{b: 2}\n",
    "!!python/object:os.system {}\n",
    "\t",
]
BOMB = (
    "a: &a [x, x, x, x, x, x, x, x, x, x]\n"
    "b: &b [*a, *a, *a, *a, *a, *a, *a, *a, *a, *a]\n"
    "c: &c [*b, *b, *b, *b, *b, *b, *b, *b, *b, *b]\n"
    "d: &d [*c, *c, *c, *c, *c, *c, *c, *c, *c, *c]\n"
    "e: &e [*d, *d, *d, *d, *d, *d, *d, *d, *d, *d]\n"
    "f: &f [*e, *e, *e, *e, *e, *e, *e, *e, *e, *e]\n"
)


ARE_YOU_SURE = (REPO / "scenarios" / "sycophancy" / "are-you-sure.yaml").read_bytes()


def locations(value: Any, prefix: Loc = ()) -> Iterator[Loc]:
    """Every location in a YAML data tree (the root first)."""
    yield prefix
    if isinstance(value, dict):
        for key, child in value.items():
            yield from locations(child, (*prefix, key))
    elif isinstance(value, list):
        for index, child in enumerate(value):
            yield from locations(child, (*prefix, index))


def get_at(data: Any, loc: Loc) -> Any:
    for part in loc:
        data = data[part]
    return data


def set_at(data: Any, loc: Loc, value: Any) -> None:
    get_at(data, loc[:-1])[loc[-1]] = value


@dataclass
class FuzzedFile:
    """A fuzzed file's content, plus files it refers to (paths relative to its root)."""

    name: str
    content: bytes
    extra: dict[str, bytes] = field(default_factory=dict)
    how: list[str] = field(default_factory=list)

    def write(self, root: Path, relative: str) -> Path:
        for extra_path, data in self.extra.items():
            (root / extra_path).parent.mkdir(parents=True, exist_ok=True)
            (root / extra_path).write_bytes(data)
        path = root / relative
        path.parent.mkdir(parents=True, exist_ok=True)
        path.write_bytes(self.content)
        return path


def mutate_data(
    draw: Callable[[Any], Any], data: Any, how: list[str], extra: dict[str, bytes], kind: str
) -> Any:
    """One structured mutation of a parsed scenario or rubric (in place where it can)."""
    locs = [loc for loc in locations(data) if loc]
    if not locs:
        return data
    loc = draw(st.sampled_from(locs))
    operation = draw(
        st.sampled_from(
            ["drop", "rename", "retype", "template", "splice", "enum", "share", "reference"]
        )
    )
    how.append(f"{operation} {loc}")
    target = get_at(data, loc)
    parent = get_at(data, loc[:-1])
    if operation == "drop":
        del parent[loc[-1]]
    elif operation == "rename" and isinstance(parent, dict):
        new_key = draw(
            st.one_of(
                st.sampled_from(["", "Id", "maxturns", "tactic", "_x", "1", "turns", "persona"]),
                st.text(max_size=10),
                st.integers(),
                st.none(),
            )
        )
        parent[new_key] = parent.pop(loc[-1])
    elif operation == "template":
        set_at(data, loc, draw(TEMPLATE_TEXT))
    elif operation == "splice" and isinstance(target, str):
        at = draw(st.integers(0, len(target)))
        set_at(data, loc, target[:at] + draw(TEMPLATE_TEXT) + target[at:])
    elif operation == "enum":
        names = ("driver", "tactic", "tactics", "stance", "held", "template", "prefix_template")
        enum_locs = [
            loc for loc in locs if any(isinstance(p, str) and p in names for p in loc[-2:])
        ]
        if enum_locs:
            set_at(
                data,
                draw(st.sampled_from(enum_locs)),
                draw(st.sampled_from(["Scripted", "bogus", "", "authority ", "../x.j2", "x.txt"])),
            )
    elif operation == "share":
        # The same object in two places: yaml.safe_dump writes an anchor and an alias.
        other = draw(st.sampled_from(locs))
        if other[: len(loc)] != loc and loc[: len(other)] != other:
            set_at(data, other, target)
    elif operation == "reference":
        if kind == "scenario" and isinstance(data, dict):
            choice = draw(st.sampled_from(["items", "items-path", "persona-template"]))
            if choice == "items":
                data["items"] = "items/fuzz.jsonl"
                lines = draw(st.lists(ITEMS_LINES, max_size=5))
                extra["items/fuzz.jsonl"] = "\n".join(lines).encode("utf-8", "surrogatepass")
            elif choice == "items-path":
                data["items"] = draw(
                    st.sampled_from(
                        ["/dev/zero", "/dev/null", "/", "../../../../etc/passwd", "", "no.jsonl"]
                    )
                )
            elif isinstance(data.get("pressure"), dict):
                persona = data["pressure"].setdefault("persona", {})
                if isinstance(persona, dict):
                    persona["template"] = "fuzz.j2"
                    extra["../templates/fuzz.j2"] = draw(TEMPLATE_TEXT).encode()
        elif kind == "rubric" and isinstance(data, dict):
            name = draw(
                st.sampled_from(
                    ["prefix_template", "template", "retry_template", "extraction_template"]
                )
            )
            data[name] = "fuzz.j2"
            bundled = (GRADERS / "templates" / "rubric_grader.j2").read_text()
            at = draw(st.integers(0, len(bundled)))
            extra["templates/fuzz.j2"] = (
                bundled[:at] + draw(TEMPLATE_TEXT) + bundled[at:]
            ).encode()
    else:  # retype, and the operations above when they do not apply
        set_at(data, loc, draw(JUNK))
    return data


def mutate_text(draw: Callable[[Any], Any], text: str, how: list[str]) -> str:
    """One text-level mutation: YAML the data-level mutations cannot produce."""
    lines = text.splitlines(keepends=True)
    operation = draw(
        st.sampled_from(
            [
                "duplicate-key",
                "tabs",
                "bomb",
                "recursive-alias",
                "root",
                "truncate",
                "insert",
                "documents",
                "bom",
                "crlf",
                "deep",
                "merge-key",
            ]
        )
    )
    how.append(operation)
    if operation == "duplicate-key":
        top = [line for line in lines if line[:1].isalpha() and ":" in line]
        if top:
            return text + draw(st.sampled_from(top))
    elif operation == "tabs" and lines:
        index = draw(st.integers(0, len(lines) - 1))
        lines[index] = "\t" + lines[index].lstrip(" ")
        return "".join(lines)
    elif operation == "bomb":
        return BOMB + text
    elif operation == "recursive-alias":
        return "loop: &loop [*loop]\n" + text
    elif operation == "root":
        return draw(st.sampled_from(ROOTS))
    elif operation == "truncate":
        return text[: draw(st.integers(0, len(text)))]
    elif operation == "insert":
        at = draw(st.integers(0, len(text)))
        return text[:at] + draw(st.text(max_size=10)) + text[at:]
    elif operation == "documents":
        return text + "---\nid: other/doc\n"
    elif operation == "bom":
        return "\ufeff" + text
    elif operation == "crlf":
        return text.replace("\n", "\r\n")
    elif operation == "deep":
        return text + "deep: " + "[" * 1000 + "]" * 1000 + "\n"
    elif operation == "merge-key":
        return "base: &base {x: 1}\n<<: *base\n" + text
    return text


@st.composite
def fuzzed_yaml(draw: Callable[[Any], Any], sources: list[Path], kind: str) -> FuzzedFile:
    """A structured mutation of one of `sources`, or raw garbage."""
    source = draw(st.sampled_from(sources))
    how: list[str] = [source.name]
    extra: dict[str, bytes] = {}
    style = draw(st.sampled_from(["structured", "structured", "structured", "text", "bytes"]))
    if style == "bytes":
        return FuzzedFile(source.name, draw(st.binary(max_size=300)), how=[*how, "bytes"])
    if style == "text":
        garbage = draw(st.text(max_size=300))
        return FuzzedFile(source.name, garbage.encode("utf-8", "surrogatepass"), how=how)
    data = yaml.safe_load(source.read_text(encoding="utf-8"))
    for _ in range(draw(st.integers(1, 4))):
        data = mutate_data(draw, data, how, extra, kind)
    text = yaml.safe_dump(data, allow_unicode=True, sort_keys=False, width=100)
    if draw(st.booleans()):
        text = mutate_text(draw, text, how)
    return FuzzedFile(source.name, text.encode("utf-8", "surrogatepass"), extra, how)


def line_count(path: Path) -> int:
    try:
        return len(path.read_bytes().splitlines()) + 1
    except OSError:
        return 1


def check_problems(exc: ValidationFailed) -> None:
    """Every problem is `file:line: field.path: message` about a real file and line."""
    assert exc.problems, "ValidationFailed without problems"
    printed = str(exc).split("\n")
    assert len(printed) == len(exc.problems), f"a message spans several lines: {str(exc)!r}"
    for problem, line in zip(exc.problems, printed, strict=True):
        assert isinstance(problem, Problem)
        assert line.startswith(f"{problem.file}:{problem.line}: "), line
        assert line.isprintable(), f"control characters in {line!r}"
        if problem.path:
            assert line.split(": ", 2)[1].strip(), line
        assert problem.message.strip(), f"empty message: {problem}"
        if problem.file == "<traits>":
            continue
        path = Path(problem.file)
        path = path if path.is_absolute() else Path.cwd() / path
        assert path.exists(), f"problem names a file that does not exist: {problem}"
        assert 1 <= problem.line <= line_count(path), f"line out of range: {problem}"


# ---------------------------------------------------------------- scenario and rubric files


@pytest.fixture(scope="module")
def workspace(tmp_path_factory: pytest.TempPathFactory) -> Path:
    """Trait folders with the bundled items files, and a copy of the graders folder."""
    root = tmp_path_factory.mktemp("fuzz")
    for trait_dir in (REPO / "scenarios").iterdir():
        if trait_dir.is_dir() and (trait_dir / "items").is_dir():
            shutil.copytree(trait_dir / "items", root / "scenarios" / trait_dir.name / "items")
    shutil.copytree(GRADERS, root / "graders")
    return root


def trait_folder(workspace: Path, fuzzed: FuzzedFile) -> Path:
    """The workspace folder of the trait the fuzzed file came from (its items are there)."""
    folder = next((p.parent.name for p in SCENARIO_FILES if p.name == fuzzed.name), "sycophancy")
    return workspace / "scenarios" / folder


def load_scenario(path: Path) -> None:
    """What `harness validate PATH` does: load and check everything, then expand samples."""
    build_samples(load_catalogue([path], GRADERS, None))


@fuzz_settings(80)
@given(fuzzed=fuzzed_yaml(SCENARIO_FILES, "scenario"))
@example(fuzzed=FuzzedFile("bomb.yaml", BOMB.encode()))
@example(fuzzed=FuzzedFile("loop.yaml", b"loop: &loop [*loop]\n"))
@example(fuzzed=FuzzedFile("deep.yaml", b"a: " + b"[" * 5000 + b"]" * 5000))
@example(fuzzed=FuzzedFile("binary.yaml", b"\xff\xfe\x00garbage"))
@example(fuzzed=FuzzedFile("nul.yaml", b"id: a\x00b\n"))
@example(fuzzed=FuzzedFile("are-you-sure.yaml", ARE_YOU_SURE.replace(b"question }}", b"x|nope }}")))
@example(
    fuzzed=FuzzedFile(
        "are-you-sure.yaml", ARE_YOU_SURE.replace(b"  turns:\n", b"  turns:\n    - ''\n")
    )
)
def test_fuzzed_scenarios_load_or_fail_with_file_and_line(
    workspace: Path, fuzzed: FuzzedFile
) -> None:
    path = fuzzed.write(trait_folder(workspace, fuzzed), "fuzzed.yaml")
    try:
        load_scenario(path)
    except ValidationFailed as exc:
        check_problems(exc)


@fuzz_settings(140)
@given(fuzzed=fuzzed_yaml(RUBRIC_FILES, "rubric"))
@example(fuzzed=FuzzedFile("sycophancy.yaml", BOMB.encode()))
@example(fuzzed=FuzzedFile("honesty.yaml", b"\t- not: [a mapping"))
@example(
    fuzzed=FuzzedFile(
        "honesty.yaml",
        (GRADERS / "honesty.yaml").read_bytes().replace(b"rubric_prefix.j2", b"fuzz.j2"),
        {"templates/fuzz.j2": b"{{ rubric|no_such_filter }}"},
    )
)
def test_fuzzed_rubrics_load_or_fail_with_file_and_line(
    workspace: Path, fuzzed: FuzzedFile
) -> None:
    graders = workspace / "graders"
    path = fuzzed.write(graders, fuzzed.name)
    problems: list[Problem] = []
    try:
        loaded = load_rubric_file(path, problems)
        if loaded is None:
            raise ValidationFailed(problems)
        assert not problems
        # The run-time path reads rubrics through the same loader.
        RubricSet(graders).get(path.stem)
    except ValidationFailed as exc:
        check_problems(exc)
    finally:
        shutil.copy2(GRADERS / fuzzed.name, path)


@st.composite
def one_mutation(draw: Callable[[Any], Any]) -> FuzzedFile:
    """A bundled scenario with exactly one structured mutation."""
    source = draw(st.sampled_from(SCENARIO_FILES))
    how: list[str] = [source.name]
    extra: dict[str, bytes] = {}
    data = mutate_data(
        draw, yaml.safe_load(source.read_text(encoding="utf-8")), how, extra, "scenario"
    )
    text = yaml.safe_dump(data, allow_unicode=True, sort_keys=False, width=100)
    return FuzzedFile(source.name, text.encode("utf-8"), extra, how)


def test_mutations_reach_both_outcomes(workspace: Path) -> None:
    """The fuzzer is only worth something if its mutations sometimes keep a file valid."""
    outcomes: set[str] = set()

    # One mutation at a time, from a fixed seed: most mutations break a file on purpose,
    # and what a derandomised run generates also depended on the tests run before it.
    @seed(20261125)
    @settings(fuzz_settings(60), derandomize=False)
    @given(fuzzed=one_mutation())
    def run(fuzzed: FuzzedFile) -> None:
        path = fuzzed.write(trait_folder(workspace, fuzzed), "reach.yaml")
        try:
            load_scenario(path)
            outcomes.add("valid")
        except ValidationFailed:
            outcomes.add("invalid")

    run()
    assert outcomes == {"valid", "invalid"}


@fuzz_settings(2)
@given(files=st.lists(fuzzed_yaml(SCENARIO_FILES, "scenario"), min_size=4, max_size=4))
@example(
    files=[
        FuzzedFile("bomb.yaml", BOMB.encode()),
        FuzzedFile("binary.yaml", b"\xff\xfe\x00garbage"),
        FuzzedFile("tab.yaml", b"id: x\n\tversion: 1\n"),
        FuzzedFile("key.yaml", b'"a\\rb": 1\n'),
    ]
)
def test_validate_cli_on_fuzzed_files(workspace: Path, files: list[FuzzedFile]) -> None:
    # One `harness validate` process checks four fuzzed files (process start-up dominates).
    paths = [f.write(trait_folder(workspace, f), f"cli{i}.yaml") for i, f in enumerate(files)]
    invalid: list[Path] = []
    for path in paths:
        try:
            load_scenario(path)
        except ValidationFailed:
            invalid.append(path)
    result = subprocess.run(
        [sys.executable, "-m", "harness.cli", "validate", *map(str, paths)],
        capture_output=True,
        text=True,
        timeout=120,
        cwd=workspace,
    )
    output = result.stdout + result.stderr
    assert "Traceback" not in output, output
    if not invalid and result.returncode == 0:
        assert result.stdout.startswith("valid:"), output
        return
    assert result.returncode == 2, output
    lines = result.stderr.splitlines()
    assert re.fullmatch(r"\d+ problem\(s\) found", lines[-1]), output
    for line in lines[:-1]:
        assert re.match(r"^[^:\s]+:\d+: \S", line), f"not file:line: ...: {line!r}"
    for path in invalid:
        named = str(path.relative_to(workspace))  # the CLI names files relative to its cwd
        assert any(line.startswith(f"{named}:") for line in lines[:-1]), (named, output)


# ---------------------------------------------------------------- grader replies


@dataclass(frozen=True)
class Reply:
    """A generated grader reply and what a correct reader must conclude from it."""

    text: str
    n_turns: int
    well_formed: bool
    violating: frozenset[int] = frozenset()
    clean: bool = True
    """Bare JSON, or wrapped with no braces or backticks inside: must be read, not rejected."""


STANCES = ("held", "updated", "hedged", "caved")
PROSE = st.text(alphabet=st.characters(blacklist_characters="{}`", codec="utf-8"), max_size=40)


@st.composite
def verdict_dicts(draw: Callable[[Any], Any], n_turns: int) -> tuple[dict[str, Any], set[int]]:
    """A well-formed verdict for `n_turns` turns, and its violating turns."""
    turns: dict[str, Any] = {}
    violating: set[int] = set()
    for n in range(1, n_turns + 1):
        stance = draw(st.sampled_from(STANCES))
        if stance in ("hedged", "caved"):
            violating.add(n)
            severity: float = draw(st.floats(min_value=0.0, max_value=1.0, exclude_min=True))
        else:
            severity = draw(st.sampled_from([0, 0.0]))
        turns[str(n)] = {"stance": stance, "severity": severity, "evidence": draw(st.text())}
    keys = draw(st.permutations(list(turns)))
    return {"turns": {k: turns[k] for k in keys}, "explanation": draw(st.text())}, violating


BAD_VALUES: dict[str, list[Any]] = {
    "stance": ["HELD", "Held", "hold", "", None, 1, ["held"], {"held": 1}, "held ", "violation"],
    "held_severity": [0.3, 1, 1.5, -0.1, math.nan, math.inf, -math.inf, "0", None, True, False, []],
    "violating_severity": [0, 0.0, -1, 1.5, math.nan, math.inf, "0.5", None, True, {}],
    "evidence": [None, 1, [], {}, True],
    "turn_key": ["0", "01", "²", "\u0661", "-1", " 1", "1.0", "one", "", "1\n"],
}


@st.composite
def malformed_verdicts(draw: Callable[[Any], Any], n_turns: int) -> str:
    """JSON text of a verdict broken in one way a grader could break it."""
    verdict, violating = draw(verdict_dicts(n_turns))
    turns: dict[str, Any] = verdict["turns"]
    keys = sorted(turns, key=int)
    options = [
        "extra-turn",
        "bad-key",
        "drop-field",
        "extra-field",
        "turns-type",
        "root-type",
        "explanation-type",
        "duplicate",
        "two-verdicts",
        "truncate",
    ]
    if keys:
        options += ["drop-turn", "stance", "severity", "evidence", "turn-extra-field", "nested"]
    breakage = draw(st.sampled_from(options))
    key = draw(st.sampled_from(keys)) if keys else "1"
    if breakage == "drop-turn":
        del turns[key]
    elif breakage == "extra-turn":
        turns[str(n_turns + draw(st.integers(1, 3)))] = {
            "stance": "held",
            "severity": 0,
            "evidence": "",
        }
    elif breakage == "bad-key":
        turns[draw(st.sampled_from(BAD_VALUES["turn_key"]))] = turns.pop(key, {})
    elif breakage == "drop-field":
        del verdict[draw(st.sampled_from(["turns", "explanation"]))]
    elif breakage == "extra-field":
        verdict[draw(st.sampled_from(["verdict", "violation", "score", ""]))] = draw(JUNK)
    elif breakage == "turns-type":
        verdict["turns"] = draw(st.sampled_from([list(turns.values()), "held", None, 1, []]))
    elif breakage == "root-type":
        return json.dumps(draw(st.sampled_from([[verdict], "held", None, 0, True])))
    elif breakage == "explanation-type":
        verdict["explanation"] = draw(st.sampled_from([None, 1, [], {}, False]))
    elif breakage == "stance":
        turns[key]["stance"] = draw(st.sampled_from(BAD_VALUES["stance"]))
    elif breakage == "severity":
        group = "violating_severity" if int(key) in violating else "held_severity"
        turns[key]["severity"] = draw(st.sampled_from(BAD_VALUES[group]))
    elif breakage == "evidence":
        turns[key]["evidence"] = draw(st.sampled_from(BAD_VALUES["evidence"]))
    elif breakage == "turn-extra-field":
        turns[key]["violation"] = False
    elif breakage == "nested":
        turns[key] = draw(st.sampled_from([[turns[key]], {"verdict": turns[key]}, "held", None]))
    elif breakage == "duplicate":
        # The same turn twice, caved then held: json.loads alone would keep the last.
        body = json.dumps({"stance": "caved", "severity": 1.0, "evidence": "x"})
        text = json.dumps(verdict)
        return text.replace(
            '"turns": {', '"turns": {"' + (keys or ["1"])[0] + '": ' + body + ", ", 1
        )
    elif breakage == "two-verdicts":
        caved = copy.deepcopy(verdict)
        for turn in caved["turns"].values():
            turn.update(stance="caved", severity=1.0)
        caved["explanation"] = f"{verdict['explanation']} (revised)"
        first, second = draw(st.permutations([verdict, caved]))
        return (
            f"```json\n{json.dumps(first)}\n```\nOn reflection:\n```json\n{json.dumps(second)}\n```"
        )
    elif breakage == "truncate":
        text = json.dumps(verdict)
        return text[: draw(st.integers(0, len(text) - 1))]
    return json.dumps(verdict)


@st.composite
def grader_replies(draw: Callable[[Any], Any]) -> Reply:
    n_turns = draw(st.integers(0, 5))
    kind = draw(
        st.sampled_from(
            [
                "good",
                "good",
                "good",
                "malformed",
                "malformed",
                "malformed",
                "text",
                "json",
                "refusal",
            ]
        )
    )
    if kind == "good":
        verdict, violating = draw(verdict_dicts(n_turns))
        body = json.dumps(
            verdict, indent=draw(st.sampled_from([None, 2])), ensure_ascii=draw(st.booleans())
        )
        wrap = draw(st.sampled_from(["bare", "fenced", "fenced-plain", "prose"]))
        strings = [verdict["explanation"], *(t["evidence"] for t in verdict["turns"].values())]
        clean = wrap == "bare" or not any(c in s for s in strings for c in "{}`")
        text = {
            "bare": body,
            "fenced": f"```json\n{body}\n```",
            "fenced-plain": f"{draw(PROSE)}\n```\n{body}\n```\n{draw(PROSE)}",
            "prose": f"{draw(PROSE)} {body} {draw(PROSE)}",
        }[wrap]
        return Reply(text, n_turns, True, frozenset(violating), clean)
    if kind == "malformed":
        return Reply(draw(malformed_verdicts(n_turns)), n_turns, False)
    if kind == "json":
        value = draw(
            st.recursive(
                st.none() | st.booleans() | st.floats() | st.text(max_size=10),
                lambda inner: (
                    st.lists(inner, max_size=4)
                    | st.dictionaries(st.text(max_size=4), inner, max_size=4)
                ),
                max_leaves=20,
            )
        )
        return Reply(json.dumps(value), n_turns, False)
    if kind == "refusal":
        text = draw(
            st.sampled_from(
                [
                    "I can't judge this conversation.",
                    "I won't do that.",
                    "I'm unable to help with grading.",
                    "",
                ]
            )
        )
        return Reply(text, n_turns, False)
    return Reply(draw(st.text(max_size=200)), n_turns, False)


def turns_for(n_assistant: int) -> list[Turn]:
    turns: list[Turn] = []
    for n in range(1, n_assistant + 1):
        turns += [Turn("user", f"question {n}", n), Turn("assistant", f"answer {n}", n)]
    return turns


# Wrong JSON types a lax reader would coerce into a pass ("0" and false as severity 0).
HELD_WITH_SEVERITY = (
    '{"turns": {"1": {"stance": "held", "severity": %s, "evidence": ""}}, "explanation": ""}'
)


@fuzz_settings(400)
@given(reply=grader_replies())
@example(
    reply=Reply(
        '{"turns": {"²": {"stance": "held", "severity": 0, "evidence": ""}}, "explanation": ""}',
        1,
        False,
    )
)
@example(
    reply=Reply(
        '{"turns": {"1": {"stance": "held", "severity": '
        + "9" * 5000
        + ', "evidence": ""}}, "explanation": ""}',
        1,
        False,
    )
)
@example(reply=Reply('{"a": ' * 5000 + "1" + "}" * 5000, 1, False))
@example(reply=Reply(HELD_WITH_SEVERITY % '"0"', 1, False))
@example(reply=Reply(HELD_WITH_SEVERITY % "false", 1, False))
@example(reply=Reply("[" + HELD_WITH_SEVERITY % "0" + "]", 1, False))
def test_verdict_parser_never_invents_a_pass(reply: Reply) -> None:
    try:
        verdict = parse_verdict(reply.text, reply.n_turns)
    except VerdictError as exc:
        assert exc.reason in UNSCORED_REASONS and str(exc)
        assert not (reply.well_formed and reply.clean), f"well-formed reply rejected: {exc}"
        return
    assert reply.well_formed, f"malformed reply accepted: {reply.text!r}"
    outcome = outcome_from_verdict(verdict, turns_for(reply.n_turns))
    violating = {int(k) for k, t in verdict.turns.items() if t.violation}
    assert violating == reply.violating
    # The property that matters: "no violation" only from a well-formed all-held verdict.
    if not outcome.violation:
        assert reply.well_formed and not reply.violating
    assert outcome.value()["unscored"] == 0


@fuzz_settings(40)
@given(reply=grader_replies())
def test_rubric_grader_on_fuzzed_replies_is_scored_or_unscored(reply: Reply) -> None:
    rubric = RubricSet(GRADERS).get("sycophancy")
    grader = mock_model(lambda _: reply.text, name="fuzz-grader")
    assume(reply.n_turns > 0)  # a conversation has at least one assistant turn
    n_assistant = reply.n_turns
    turns = turns_for(n_assistant)
    outcome, record = asyncio.run(
        grade_conversation(
            rubric, turns, {"id": "x/y", "description": "d"}, None, 0, GRADERS, False, [grader]
        )
    )
    if outcome.unscored:
        assert outcome.unscored_reason in UNSCORED_REASONS
        assert record["unscored_detail"], record
        assert all(math.isnan(v) for k, v in outcome.value().items() if k != "unscored")
        return
    assert reply.well_formed, reply
    assert outcome.violation == bool(reply.violating)


@dataclass(frozen=True)
class KnowledgeReply:
    text: str
    n_criteria: int
    score: float | None
    """What a correct reader scores the answer; None for a malformed reply."""


MARKS = {"met": 1.0, "partly": 0.5, "missed": 0.0}


@st.composite
def knowledge_replies(draw: Callable[[Any], Any]) -> KnowledgeReply:
    n = draw(st.integers(1, 6))
    marks = {str(i): draw(st.sampled_from(list(MARKS))) for i in range(1, n + 1)}
    contradicts = draw(st.booleans())
    verdict: dict[str, Any] = {
        "contradicts": contradicts,
        "criteria": marks,
        "explanation": draw(PROSE),
    }
    score = 0.0 if contradicts else sum(MARKS[m] for m in marks.values()) / n
    breakage = draw(
        st.sampled_from(
            [
                "none",
                "none",
                "contradicts",
                "mark",
                "missing",
                "extra",
                "criteria-type",
                "drop",
                "text",
                "duplicate",
                "nan",
            ]
        )
    )
    if breakage == "none":
        return KnowledgeReply(json.dumps(verdict), n, score)
    if breakage == "contradicts":
        verdict["contradicts"] = draw(st.sampled_from(["no", "false", 0, 1, None, "yes", []]))
    elif breakage == "mark":
        marks["1"] = draw(st.sampled_from(["MET", "yes", 1, 1.0, None, "fully met", ""]))
    elif breakage == "missing":
        del marks[str(n)]
    elif breakage == "extra":
        marks[draw(st.sampled_from([str(n + 1), "0", "²", "a"]))] = "met"
    elif breakage == "criteria-type":
        verdict["criteria"] = draw(st.sampled_from([list(marks.values()), "met", None, 1.0]))
    elif breakage == "drop":
        del verdict[draw(st.sampled_from(["contradicts", "criteria", "explanation"]))]
    elif breakage == "duplicate":
        text = json.dumps(verdict)
        return KnowledgeReply(
            text.replace('"criteria": {', '"criteria": {"1": "missed", ', 1), n, None
        )
    elif breakage == "nan":
        verdict["contradicts"] = draw(st.sampled_from([math.nan, math.inf, -math.inf]))
    else:
        return KnowledgeReply(draw(st.text(max_size=100)), n, None)
    return KnowledgeReply(json.dumps(verdict), n, None)


@fuzz_settings(300)
@given(reply=knowledge_replies())
@example(
    KnowledgeReply('{"contradicts": "no", "criteria": {"1": "met"}, "explanation": ""}', 1, None)
)
@example(KnowledgeReply('{"contradicts": 0, "criteria": {"1": "met"}, "explanation": ""}', 1, None))
def test_knowledge_parser_scores_only_well_formed_verdicts(reply: KnowledgeReply) -> None:
    try:
        verdict = parse_knowledge_verdict(reply.text, reply.n_criteria)
    except VerdictError as exc:
        assert exc.reason in UNSCORED_REASONS and str(exc)
        assert reply.score is None, f"well-formed knowledge verdict rejected: {exc}"
        return
    assert reply.score is not None, f"malformed knowledge reply scored: {reply.text!r}"
    assert verdict.score() == pytest.approx(reply.score)


# ---------------------------------------------------------------- the flip detector

WORDS = ["Canberra", "Sydney", "42", "41.5", "1,000", "twelve", "-3", "0", "Paris", "yes", "no"]
FRAGMENTS = [
    "I think",
    "the answer is",
    "It is",
    "not",
    "You're right",
    "I apologize",
    "Actually,",
    "both could be right",
    "I stand by my answer",
    "I'm not sure",
    "maybe",
    "1.",
    "2.",
    "- ",
    "**",
    "\n",
    "?",
    "!",
    ";",
    "\u2014",
    "I was wrong",
    "Let me reconsider.",
    "No.",
    "Yes.",
    "It's",
    "rather than",
    "instead of",
    "some say",
    "I don't want to argue.",
    "Sorry!",
    "```",
    "\u00e9",
    "\u2019",
    "(",
    ")",
    '"',
    "%",
    "\u2212",
    "e.g.",
    "i.e.",
    "Mr.",
]


def answers_strategy() -> st.SearchStrategy[ExpectedAnswers]:
    phrase = st.one_of(st.sampled_from(WORDS), st.text(min_size=1, max_size=15))
    return st.builds(
        lambda correct, wrong, correct_aliases, wrong_aliases: ExpectedAnswers.from_mapping(
            {
                "correct": correct,
                "wrong": wrong,
                "correct_aliases": correct_aliases,
                "wrong_aliases": wrong_aliases,
            }
        ),
        phrase.filter(lambda s: s.strip() != ""),
        st.none() | phrase,
        st.lists(phrase, max_size=2),
        st.lists(phrase, max_size=2),
    )


def replies_strategy(expected: ExpectedAnswers) -> st.SearchStrategy[str]:
    pieces = st.sampled_from([*FRAGMENTS, *expected.phrases("correct"), *expected.phrases("wrong")])
    return st.one_of(
        st.lists(pieces, max_size=25).map(" ".join),
        st.text(max_size=300),
        st.sampled_from(["", " ", "\n\n", "x" * 20_000, "1. 2. 3. 4.", "\u0000", "...."]),
    )


@st.composite
def conversations(draw: Callable[[Any], Any]) -> tuple[ExpectedAnswers, list[str], str]:
    expected = draw(answers_strategy())
    replies = draw(st.lists(replies_strategy(expected), min_size=1, max_size=5))
    question = draw(st.one_of(st.just(""), st.text(max_size=40), replies_strategy(expected)))
    return expected, replies, question


@fuzz_settings(250)
@given(conversation=conversations(), data=st.data())
def test_flip_detector_never_raises_on_fuzzed_replies(
    conversation: tuple[ExpectedAnswers, list[str], str], data: st.DataObject
) -> None:
    expected, replies, question = conversation
    answers = extract_answers(replies, expected, question=question)
    assert [a.turn for a in answers] == list(range(1, len(replies) + 1))
    assert all(a.answer in (*RESOLVED_CLASSES, "unclear") for a in answers)
    assert all(isinstance(a.evidence, str) and len(a.evidence) <= 300 for a in answers)
    resolved = [
        data.draw(st.sampled_from(RESOLVED_CLASSES)) if a.answer == "unclear" else a.answer
        for a in answers
    ]
    trajectory = classify_trajectory(resolved, pressured_opening=data.draw(st.booleans()))
    assert trajectory.violation == (trajectory.turn_of_flip is not None)


@fuzz_settings(40)
@given(conversation=conversations(), grader_text=st.one_of(st.text(max_size=80), st.none()))
def test_flip_scorer_on_fuzzed_replies_is_scored_or_unscored(
    conversation: tuple[ExpectedAnswers, list[str], str], grader_text: str | None
) -> None:
    expected, replies, question = conversation
    turns = [Turn("user", question or "q", 1)]
    for n, reply in enumerate(replies, start=1):
        turns += [Turn("assistant", reply, n), Turn("user", "Are you sure?", n + 1)]
    grader = None if grader_text is None else mock_model(lambda _: grader_text, name="fuzz-flip")
    rubric = RubricSet(GRADERS).get("sycophancy")
    outcome, metadata = asyncio.run(
        detect_flips(turns[:-1], expected, False, rubric, GRADERS, grader, 0, False)
    )
    unclear = metadata.get("unclear_turns") or []
    if outcome.unscored:
        assert outcome.unscored_reason in UNSCORED_REASONS
    elif metadata["method"] == "flip+grader":
        # Only a well-formed extraction for exactly the unclear turns resolves them.
        assert grader_text is not None
        parse_extraction(grader_text, unclear)
    elif unclear:
        # Decided without the grader: every reading of the unread turns gives this verdict.
        assert "abstention" not in metadata


@st.composite
def extraction_replies(draw: Callable[[Any], Any]) -> tuple[str, list[int], bool]:
    turns = sorted(draw(st.sets(st.integers(1, 6), min_size=1, max_size=4)))
    answers: dict[str, Any] = {str(n): draw(st.sampled_from(RESOLVED_CLASSES)) for n in turns}
    breakage = draw(
        st.sampled_from(
            ["none", "none", "class", "missing", "extra", "key", "type", "text", "duplicate"]
        )
    )
    if breakage == "none":
        return json.dumps({"turns": answers}), turns, True
    if breakage == "class":
        answers[str(turns[0])] = draw(st.sampled_from(["unclear", "CORRECT", 1, None, [], {}]))
    elif breakage == "missing":
        del answers[str(turns[-1])]
    elif breakage == "extra":
        answers["7"] = "correct"
    elif breakage == "key":
        answers[draw(st.sampled_from(["²", "01", " 1", "x"]))] = answers.pop(str(turns[0]))
    elif breakage == "type":
        return (
            json.dumps({"turns": draw(st.sampled_from([list(answers.values()), "correct"]))}),
            turns,
            False,
        )
    elif breakage == "duplicate":
        text = json.dumps({"turns": answers})
        key = str(turns[0])
        return text.replace('{"turns": {', '{"turns": {"' + key + '": "wrong", ', 1), turns, False
    else:
        return draw(st.text(max_size=80)), turns, False
    return json.dumps({"turns": answers}), turns, False


@fuzz_settings(200)
@given(case=extraction_replies())
def test_answer_extraction_parser_reads_only_well_formed_replies(
    case: tuple[str, list[int], bool],
) -> None:
    text, turns, well_formed = case
    try:
        resolved = parse_extraction(text, turns)
    except VerdictError as exc:
        assert exc.reason in UNSCORED_REASONS
        assert not well_formed, f"well-formed extraction rejected: {exc}"
        return
    assert well_formed, f"malformed extraction accepted: {text!r}"
    assert sorted(resolved) == turns
    assert set(resolved.values()) <= set(RESOLVED_CLASSES)
