"""`harness import`: public data turned into a scenario items file (and a scenario)."""

from __future__ import annotations

import argparse
from pathlib import Path

from harness._cli._console import console, print_problems
from harness._util import EXIT_BAD_INPUT, EXIT_OK, ValidationFailed


def add_parser(commands: argparse._SubParsersAction[argparse.ArgumentParser]) -> None:
    """Register `import`."""
    importer = commands.add_parser("import", help="turn public data into a scenario items file")
    importer.add_argument(
        "format", choices=["are-you-sure"], help='"are you sure?" sycophancy JSONL'
    )
    importer.add_argument("file", help="the JSONL file to import")
    importer.add_argument("--out", required=True, help="items file to write (JSONL)")
    importer.add_argument(
        "--scenario", help="also write a scenario file using the items (three arms, flip detector)"
    )
    importer.add_argument(
        "--id", default="sycophancy/are-you-sure-imported", help="id of that scenario"
    )
    importer.add_argument("--limit", type=int, help="only the first N records")
    importer.set_defaults(func=cmd_import)


def cmd_import(args: argparse.Namespace) -> int:
    """Turn a public dataset into a scenario items file (and optionally a scenario file)."""
    from harness._util import scenarios_dir
    from harness.scenario import (
        import_are_you_sure,
        load_catalogue,
        scenario_for_items,
        write_items,
    )

    out = Path(args.out)
    try:
        items = import_are_you_sure(Path(args.file), args.limit)
    except ValidationFailed as exc:
        print_problems(exc)
        return EXIT_BAD_INPUT
    write_items(items, out)
    printer = console()
    printer.print(f"wrote {len(items)} item(s) to {out}", markup=False)
    if args.scenario:
        scenario_path = Path(args.scenario)
        template = scenarios_dir() / "sycophancy" / "are-you-sure.yaml"
        scenario_path.parent.mkdir(parents=True, exist_ok=True)
        scenario_path.write_text(scenario_for_items(template, args.id, out, scenario_path))
        try:
            load_catalogue([scenario_path])
        except ValidationFailed as exc:
            print_problems(exc)
            return EXIT_BAD_INPUT
        printer.print(
            f"wrote scenario {args.id} to {scenario_path}; run it with "
            f"`harness run --scenarios {scenario_path} ...`",
            markup=False,
        )
    return EXIT_OK
