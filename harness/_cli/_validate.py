"""`harness validate` and `harness schema`: check scenario files, print their schema."""

from __future__ import annotations

import argparse
import json
import sys
from pathlib import Path

from harness._cli._console import console, print_problems
from harness._util import EXIT_BAD_INPUT, EXIT_OK, ValidationFailed


def add_parser(commands: argparse._SubParsersAction[argparse.ArgumentParser]) -> None:
    """Register `validate` and `schema`."""
    validate = commands.add_parser("validate", help="check scenario and rubric files")
    validate.add_argument("paths", nargs="*", help="scenario files/folders (default: bundled)")
    validate.add_argument("--graders", help="rubrics folder (default: bundled graders/)")
    validate.set_defaults(func=cmd_validate)

    schema = commands.add_parser("schema", help="print the scenario JSON Schema")
    schema.add_argument("--rubric", action="store_true", help="the rubric schema instead")
    schema.add_argument("--markdown", action="store_true", help="the Markdown reference docs")
    schema.set_defaults(func=cmd_schema)


def _split_paths(paths: list[Path]) -> tuple[list[Path], Path | None]:
    """Scenario paths, and a graders folder if one was named (file or folder)."""
    scenarios: list[Path] = []
    graders: Path | None = None
    for path in paths:
        if path.name == "graders" and path.is_dir():
            graders = path
        elif path.parent.name == "graders" and path.suffix in (".yaml", ".yml"):
            graders = path.parent
        else:
            scenarios.append(path)
    return scenarios, graders


def cmd_validate(args: argparse.Namespace) -> int:
    """Check scenario and rubric files; render every template against every item."""
    from harness.artifacts import check_detectors
    from harness.scenario import load_catalogue
    from harness.task import build_samples

    scenario_paths, graders = _split_paths([Path(p) for p in args.paths])
    graders = Path(args.graders) if args.graders else graders
    n_detectors, detector_problems = check_detectors(graders)
    try:
        # With no scenario path (only a graders folder, or nothing), the bundled
        # scenarios are checked against the rubrics.
        catalogue = load_catalogue(scenario_paths or None, graders, None)
        samples = build_samples(catalogue)
    except ValidationFailed as exc:
        print_problems(ValidationFailed([*exc.problems, *detector_problems]))
        return EXIT_BAD_INPUT
    if detector_problems:
        print_problems(ValidationFailed(detector_problems))
        return EXIT_BAD_INPUT
    console().print(
        f"valid: {len(catalogue.scenarios)} scenario file(s) → {len(samples)} sample(s), "
        f"{len(catalogue.rubrics)} rubric(s), {len(catalogue.tactic_files)} tactic(s), "
        f"{n_detectors} artifact detector(s)",
        markup=False,
    )
    return EXIT_OK


def cmd_schema(args: argparse.Namespace) -> int:
    """Print the JSON Schema of scenario (or rubric) files, or the Markdown reference."""
    from harness.scenario import Rubric, Scenario, reference_markdown

    if args.markdown:
        sys.stdout.write(reference_markdown())
        return EXIT_OK

    model = Rubric if args.rubric else Scenario
    schema = {
        "$schema": "https://json-schema.org/draft/2020-12/schema",
        **model.model_json_schema(),
    }
    sys.stdout.write(json.dumps(schema, indent=2) + "\n")
    return EXIT_OK
