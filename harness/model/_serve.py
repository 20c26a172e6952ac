"""`harness serve`: run a model server in the foreground (embedded llama.cpp or vLLM)."""

from __future__ import annotations

import os
import signal
import subprocess
import sys
import threading
import time
from collections.abc import Callable
from pathlib import Path

from harness.model._embedded import EmbeddedServer, free_port, http_ok, locate_model

# What vLLM needs on a CPU-only, offline machine; an explicit environment wins.
VLLM_CPU_ENV = {
    "HF_HUB_OFFLINE": "1",
    "VLLM_HOST_IP": "127.0.0.1",
    "VLLM_CPU_KVCACHE_SPACE": "1",
    "VLLM_CPU_NUM_OF_RESERVED_CPU": "0",
}


def vllm_command(
    python: str,
    checkpoint: str,
    host: str,
    port: int,
    served_model_name: str,
    extra: list[str],
) -> list[str]:
    """Command line of vLLM's OpenAI-compatible server for an HF checkpoint directory."""
    # `python -m` rather than the `vllm` script, which fails on some wheels' metadata.
    return [
        python, "-m", "vllm.entrypoints.openai.api_server",
        "--model", checkpoint, "--host", host, "--port", str(port),
        "--served-model-name", served_model_name, *extra,
    ]  # fmt: skip


def _wait_for_signal(is_alive: Callable[[], bool]) -> None:
    stop = threading.Event()
    previous = {s: signal.signal(s, lambda *_: stop.set()) for s in (signal.SIGINT, signal.SIGTERM)}
    try:
        while not stop.wait(0.5):
            if not is_alive():
                break
    finally:
        for signum, handler in previous.items():
            signal.signal(signum, handler)


def serve_embedded(
    model: str, port: int | None, n_ctx: int, n_parallel: int, echo: Callable[[str], None]
) -> int:
    """Serve an embedded model until SIGINT/SIGTERM; return an exit code."""
    server = EmbeddedServer(locate_model(model), model, n_ctx=n_ctx, n_parallel=n_parallel)
    server.port = port or free_port()
    server.start()
    echo(f"serving embedded/{model} at {server.base_url}")
    echo(f"  use: EMBEDDED_BASE_URL={server.base_url} inspect eval ... --model embedded/{model}")
    echo(f"  or:  LOCAL_BASE_URL={server.base_url} LOCAL_API_KEY=none inspect eval ...")
    echo(f"         --model openai-api/local/{model}")
    echo(f"  server log: {server.log_path}   (Ctrl-C to stop)")
    try:
        _wait_for_signal(lambda: server.process is not None and server.process.poll() is None)
    finally:
        server.stop()
    echo("stopped")
    return 0


def serve_vllm(
    checkpoint: str,
    port: int | None,
    served_model_name: str | None,
    python: str | None,
    extra: list[str],
    echo: Callable[[str], None],
    ready_timeout: float = 900.0,
) -> int:
    """Serve an HF checkpoint with vLLM on 127.0.0.1 until SIGINT/SIGTERM; return an exit code."""
    if not Path(checkpoint).exists() and "/" not in checkpoint:
        echo(f"error: checkpoint not found: {checkpoint}")
        return 2
    port = port or free_port()
    name = served_model_name or Path(checkpoint).name
    interpreter = python or os.environ.get("HARNESS_VLLM_PYTHON") or sys.executable
    command = vllm_command(interpreter, checkpoint, "127.0.0.1", port, name, extra)
    env = {**VLLM_CPU_ENV, **os.environ} if not _has_gpu() else dict(os.environ)
    process = subprocess.Popen(command, env=env, stdin=subprocess.DEVNULL, start_new_session=True)
    base_url = f"http://127.0.0.1:{port}/v1"
    deadline = time.monotonic() + ready_timeout
    try:
        while not http_ok(f"http://127.0.0.1:{port}/health"):
            if process.poll() is not None:
                echo(f"error: vLLM exited with code {process.returncode} before it was ready")
                return 1
            if time.monotonic() > deadline:
                echo(f"error: vLLM not ready after {ready_timeout:.0f}s")
                return 1
            time.sleep(1.0)
        echo(f"serving vllm/{name} at {base_url}")
        echo(f"  use: VLLM_BASE_URL={base_url} inspect eval ... --model vllm/{name}")
        echo("  (Ctrl-C to stop)")
        _wait_for_signal(lambda: process.poll() is None)
    finally:
        _stop_group(process)
    echo("stopped")
    return 0


def _has_gpu() -> bool:
    return Path("/dev/nvidia0").exists()


def _stop_group(process: subprocess.Popen[bytes]) -> None:
    """Stop vLLM and its workers (it runs in its own process group)."""
    if process.poll() is not None:
        return
    try:
        os.killpg(process.pid, signal.SIGTERM)
        process.wait(timeout=30)
    except (subprocess.TimeoutExpired, ProcessLookupError):
        try:
            os.killpg(process.pid, signal.SIGKILL)
        except ProcessLookupError:
            pass
        process.wait(timeout=30)
