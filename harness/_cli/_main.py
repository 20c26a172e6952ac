"""The `harness` argument parser, made of each command module's subparsers, and `main`."""

from __future__ import annotations

import argparse
import sys
from collections.abc import Sequence

import harness._cli._artifacts as _artifacts
import harness._cli._compare as _compare
import harness._cli._grade as _grade
import harness._cli._import as _import
import harness._cli._organisms as _organisms
import harness._cli._report as _report
import harness._cli._run as _run
import harness._cli._serve as _serve
import harness._cli._validate as _validate

COMMANDS = (
    _validate,
    _serve,
    _run,
    _report,
    _grade,
    _compare,
    _artifacts,
    _import,
    _organisms,
)
"""The command modules, in the order `harness --help` lists their commands."""


def build_parser() -> argparse.ArgumentParser:
    """The argument parser for every subcommand."""
    parser = argparse.ArgumentParser(
        prog="harness", description="Multi-turn adversarial evaluation harness (inspect-ai)."
    )
    commands = parser.add_subparsers(dest="command", required=True)
    for module in COMMANDS:
        module.add_parser(commands)
    return parser


def main(argv: Sequence[str] | None = None) -> int:
    """Entry point of the `harness` command."""
    parser = build_parser()
    argv = list(sys.argv[1:] if argv is None else argv)
    extra: list[str] = []
    if argv[:1] == ["serve"] and "--" in argv:
        cut = argv.index("--")
        argv, extra = argv[:cut], argv[cut + 1 :]
    args = parser.parse_args(argv)
    if args.command == "serve":
        args.vllm_args = extra
    try:
        return int(args.func(args))
    except KeyboardInterrupt:
        return 130


if __name__ == "__main__":
    sys.exit(main())
