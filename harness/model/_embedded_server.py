"""Run the embedded llama.cpp server (xllamacpp) in this process until a signal arrives.

Started as `python -m harness.model._embedded_server ...` by the `embedded` provider and
by `harness serve`, so that llama.cpp's per-request output goes to a log file
rather than the user's terminal, and the server can be stopped by pid.
"""

from __future__ import annotations

import argparse
import os
import signal
import sys
import threading


def main(argv: list[str] | None = None) -> int:
    """Start the server, print its base URL, and block until SIGINT/SIGTERM."""
    parser = argparse.ArgumentParser(prog="python -m harness.model._embedded_server")
    parser.add_argument("--model", required=True, help="GGUF file")
    parser.add_argument("--alias", required=True, help="model name the server answers to")
    parser.add_argument("--host", default="127.0.0.1")
    parser.add_argument("--port", type=int, required=True)
    parser.add_argument("--n-ctx", type=int, default=8192)
    parser.add_argument("--n-parallel", type=int, default=2)
    parser.add_argument("--threads", type=int, default=os.cpu_count() or 2)
    parser.add_argument("--parent-pid", type=int, default=None, help="exit when this pid is gone")
    args = parser.parse_args(argv)

    import xllamacpp

    params = xllamacpp.CommonParams()
    params.model.path = args.model
    params.hostnames = [args.host]
    params.port = args.port
    params.model_alias = {args.alias}  # a set: a plain string would become its characters
    params.n_ctx = args.n_ctx
    params.n_parallel = args.n_parallel
    params.kv_unified = True  # every slot may use the whole context
    params.cpuparams.n_threads = args.threads
    params.cpuparams_batch.n_threads = args.threads
    params.offline = True
    params.use_jinja = True
    server = xllamacpp.Server(params)

    stop = threading.Event()
    for signum in (signal.SIGINT, signal.SIGTERM):
        signal.signal(signum, lambda *_: stop.set())
    print(f"serving {args.alias} at http://{args.host}:{args.port}/v1", flush=True)
    while not stop.wait(1.0):
        if args.parent_pid is not None and os.getppid() != args.parent_pid:
            break  # our parent died without stopping us
    del server
    # llama.cpp's server threads do not join cleanly; leave without running them down.
    sys.stdout.flush()
    os._exit(0)


if __name__ == "__main__":
    sys.exit(main())
