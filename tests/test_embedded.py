"""The embedded CPU model: provider, entry point from any directory, and `harness serve`."""

from __future__ import annotations

import json
import os
import signal
import socket
import subprocess
import sys
import time
import urllib.request
from pathlib import Path

import pytest
from inspect_ai.log import read_eval_log

from harness.model import EmbeddedModelError, locate_model
from harness.model._embedded import free_port

BIN = Path(sys.executable).parent

pytestmark = pytest.mark.slow


def _listening(port: int) -> bool:
    with socket.socket() as sock:
        return sock.connect_ex(("127.0.0.1", port)) == 0


def _servers_of(parent: int) -> list[str]:
    out = subprocess.run(["ps", "-eo", "pid,args"], capture_output=True, text=True).stdout
    return [
        line
        for line in out.splitlines()
        if "harness.model._embedded_server" in line and f"--parent-pid {parent}" in line
    ]


def test_locate_model_finds_the_wheel_file() -> None:
    path = locate_model("smollm2")
    assert path.name == "SmolLM2-135M-Instruct.Q4_1.gguf" and path.stat().st_size > 50_000_000


def test_unknown_model_is_a_clear_error() -> None:
    with pytest.raises(EmbeddedModelError, match="unknown embedded model 'gpt-9'"):
        locate_model("gpt-9")


def test_inspect_eval_from_any_directory(tmp_path: Path) -> None:
    """`inspect eval harness/pressure --model embedded/smollm2` works with no key or network."""
    log_dir = tmp_path / "logs"
    env = {k: v for k, v in os.environ.items() if not k.endswith("_API_KEY")}
    process = subprocess.Popen(
        [str(BIN / "inspect"), "eval", "harness/pressure",
         "--model", "embedded/smollm2", "--model-role", "grader=embedded/smollm2",
         "-T", "driver=scripted", "-T", "max_turns=2", "-T", "items_per_scenario=1",
         "-T", "traits=sycophancy", "--limit", "1", "--max-tokens", "48",
         "--log-dir", str(log_dir), "--display", "none"],
        cwd=tmp_path, env=env, stdout=subprocess.PIPE, stderr=subprocess.STDOUT, text=True,
    )  # fmt: skip
    out, _ = process.communicate(timeout=600)
    assert process.returncode == 0, out
    [log_file] = list(log_dir.glob("*.eval"))
    log = read_eval_log(str(log_file))
    assert log.status == "success", out
    assert log.eval.model == "embedded/smollm2"
    [sample] = log.samples or []
    assistant = [m for m in sample.messages if m.role == "assistant"]
    assert len(assistant) == 2 and all(m.text.strip() for m in assistant)
    assert "rubric_grader" in (sample.scores or {})
    # The lazily started server went away with the process that started it.
    deadline = time.monotonic() + 10
    while _servers_of(process.pid) and time.monotonic() < deadline:
        time.sleep(0.5)
    assert _servers_of(process.pid) == []


def test_serve_answers_and_stops_on_sigterm(tmp_path: Path) -> None:
    port = free_port()
    process = subprocess.Popen(
        [str(BIN / "harness"), "serve", "smollm2", "--port", str(port)],
        stdout=subprocess.PIPE,
        stderr=subprocess.STDOUT,
        text=True,
    )
    try:
        assert process.stdout is not None
        first = process.stdout.readline()
        assert f"at http://127.0.0.1:{port}/v1" in first, first
        request = urllib.request.Request(
            f"http://127.0.0.1:{port}/v1/chat/completions",
            data=json.dumps(
                {
                    "model": "smollm2",
                    "max_tokens": 8,
                    "messages": [{"role": "user", "content": "Say hi."}],
                }
            ).encode(),
            headers={"Content-Type": "application/json"},
        )
        with urllib.request.urlopen(request, timeout=120) as response:
            body = json.load(response)
        assert body["choices"][0]["message"]["content"]
        process.send_signal(signal.SIGTERM)
        assert process.wait(timeout=30) == 0
        assert "stopped" in process.stdout.read()
        assert not _listening(port)
        assert _servers_of(process.pid) == []
    finally:
        if process.poll() is None:
            process.kill()


def test_a_stopped_server_leaves_no_log_but_a_failed_one_keeps_it(tmp_path: Path) -> None:
    from harness.model._embedded import EmbeddedServer

    server = EmbeddedServer(locate_model("smollm2"), "smollm2", 512, 1, 1)
    server.start()
    log = server.log_path
    assert log is not None and log.is_file()
    server.stop()
    assert not log.exists()
    # A model file the server cannot load: it exits on its own, and the error names its log.
    broken = tmp_path / "broken.gguf"
    broken.write_bytes(b"GGUF not really")
    failing = EmbeddedServer(broken, "broken", 512, 1, 1)
    with pytest.raises(EmbeddedModelError, match=r"exited with code .*; see .*harness-embedded-"):
        failing.start()
    assert failing.log_path is not None and failing.log_path.is_file()
    failing.log_path.unlink()
