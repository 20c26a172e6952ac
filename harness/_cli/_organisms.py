"""`harness organisms build|list|data`: known-answer checkpoints from recipes."""

from __future__ import annotations

import argparse
import json
import sys
from pathlib import Path

from harness._cli._console import console, print_error, print_problems
from harness._util import EXIT_BAD_INPUT, EXIT_FAILED, EXIT_OK, ValidationFailed, display_path


def add_parser(commands: argparse._SubParsersAction[argparse.ArgumentParser]) -> None:
    """Register `organisms` and its subcommands."""
    organisms = commands.add_parser(
        "organisms", help="known-answer checkpoints: plant a behaviour, check the eval finds it"
    )
    sub = organisms.add_subparsers(dest="organisms_command", required=True)
    build = sub.add_parser("build", help="train, export and check organisms (cached by recipe)")
    build.add_argument("names", nargs="*", help="bundled recipe names (default: all bundled)")
    _recipe_and_out(build)
    build.add_argument("--force", action="store_true", help="rebuild even when cached")
    build.set_defaults(func=cmd_build)

    listing = sub.add_parser("list", help="recipes, and which are built in --out")
    _recipe_and_out(listing)
    listing.set_defaults(func=cmd_list)

    data = sub.add_parser("data", help="write a recipe's training data as JSONL (no training)")
    data.add_argument("names", nargs="*", help="bundled recipe names")
    _recipe_and_out(data, out=False)
    data.add_argument("--output", type=Path, help="file to write (default: stdout)")
    data.set_defaults(func=cmd_data)


def _recipe_and_out(parser: argparse.ArgumentParser, out: bool = True) -> None:
    parser.add_argument(
        "--recipe",
        action="append",
        default=[],
        type=Path,
        metavar="FILE",
        help="a recipe file of your own (repeatable)",
    )
    if out:
        parser.add_argument(
            "--out",
            type=Path,
            metavar="DIR",
            help="where organisms are built (default: ~/.cache/harness/organisms)",
        )


def cmd_build(args: argparse.Namespace) -> int:
    """Build each named recipe; print where each checkpoint is and how to serve it."""
    from harness.organisms import (
        OrganismError,
        TrainingEnvError,
        build_one,
        default_out,
        find_recipes,
    )

    out = args.out or default_out()
    try:
        recipes = find_recipes(args.names, args.recipe)
        built = [build_one(r, out, _say, force=args.force) for r in recipes]
    except ValidationFailed as exc:
        print_problems(exc)
        return EXIT_BAD_INPUT
    except (OrganismError, TrainingEnvError) as exc:
        print_error(str(exc))
        return EXIT_FAILED
    for organism in built:
        seconds = organism.manifest["seconds"]["total"]
        state = "cached" if organism.cached else f"built in {seconds:.0f}s"
        console().print(
            f"{organism.name}: {state}; serve with --model embedded/{display_path(organism.gguf)}"
        )
    return EXIT_OK


def cmd_list(args: argparse.Namespace) -> int:
    """Every recipe with its base, data and method, and its build in --out if any."""
    from harness.organisms import build_state, default_out, find_recipes, list_built

    out = args.out or default_out()
    try:
        recipes = find_recipes([], args.recipe)
        built = list_built(out)
        states = {r.recipe.name: build_state(r, out) for r in recipes}
    except ValidationFailed as exc:
        print_problems(exc)
        return EXIT_BAD_INPUT
    for entry in recipes:
        recipe = entry.recipe
        manifest = built.get(recipe.name)
        state = states[recipe.name]
        if manifest is not None:
            loss = manifest["training"]["final_loss"]
            state += f" {manifest['built_at']}" + (f" (loss {loss:.3f})" if loss else "")
            if state.startswith("stale"):
                state += ": the recipe, its data or its base changed; build it again"
        console().print(
            f"{recipe.name:<20} base {recipe.base:<18} {recipe.training.method} "
            f"{recipe.training.steps} steps  {state}\n    {recipe.description.strip()}"
        )
    console().print(f"build folder: {display_path(out)}")
    return EXIT_OK


def cmd_data(args: argparse.Namespace) -> int:
    """Write the training data a build would use, so it can be read (or scanned) first."""
    from harness.organisms import find_recipes, training_data

    try:
        recipes = find_recipes(args.names, args.recipe)
        examples = [e for r in recipes for e in training_data(r)[0]]
    except ValidationFailed as exc:
        print_problems(exc)
        return EXIT_BAD_INPUT
    lines = "".join(json.dumps(e, ensure_ascii=False) + "\n" for e in examples)
    if args.output:
        args.output.write_text(lines, encoding="utf-8")
    else:
        sys.stdout.write(lines)
    return EXIT_OK


def _say(line: str) -> None:
    console().print(line)
