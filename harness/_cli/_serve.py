"""`harness serve`: a local model server in the foreground."""

from __future__ import annotations

import argparse
import sys

from harness._cli._console import console, print_error
from harness._util import EXIT_BAD_INPUT, EXIT_FAILED


def add_parser(commands: argparse._SubParsersAction[argparse.ArgumentParser]) -> None:
    """Register `serve`."""
    serve = commands.add_parser(
        "serve",
        help="serve a model on 127.0.0.1 until Ctrl-C",
        usage="harness serve [MODEL] [options] [-- EXTRA_VLLM_ARGS ...]",
        epilog="vllm: extra vLLM server arguments go last, after `--`.",
    )
    serve.add_argument("model", nargs="?", help="embedded model name / GGUF, or HF checkpoint")
    serve.add_argument("--engine", choices=["embedded", "vllm"], default="embedded")
    serve.add_argument("--port", type=int, help="default: a free port")
    serve.add_argument("--n-ctx", type=int, default=8192, help="embedded: context size")
    serve.add_argument("--n-parallel", type=int, default=2, help="embedded: parallel slots")
    serve.add_argument("--served-model-name", help="vllm: model name (default: folder name)")
    serve.add_argument("--python", help="vllm: interpreter with vllm installed")
    # Extra vLLM args (after `--`) are split off in main(): a REMAINDER positional
    # would swallow every option written after the checkpoint.
    serve.set_defaults(func=cmd_serve, vllm_args=[])


def cmd_serve(args: argparse.Namespace) -> int:
    """Serve a model on 127.0.0.1 in the foreground until Ctrl-C / SIGTERM."""
    from harness.model import EmbeddedModelError, serve_embedded, serve_vllm

    out = console()

    def echo(line: str) -> None:
        out.print(line, markup=False)
        sys.stdout.flush()

    try:
        if args.engine == "embedded":
            return serve_embedded(
                args.model or "smollm2", args.port, args.n_ctx, args.n_parallel, echo
            )
        if not args.model:
            print_error("--engine vllm needs a CHECKPOINT")
            return EXIT_BAD_INPUT
        return serve_vllm(
            args.model, args.port, args.served_model_name, args.python, args.vllm_args, echo
        )
    except EmbeddedModelError as exc:
        print_error(str(exc))
        return EXIT_FAILED
