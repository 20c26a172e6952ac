"""The training environment: torch (CPU) + transformers + gguf + peft, created once and cached.

It lives in `$HARNESS_CACHE_DIR/organisms-train-py311/` (default `~/.cache/harness`), apart
from the harness's own environment: torch is large and only building organisms needs it.
`torch==2.13.0` resolves to the CPU-only wheel here (~1.2 GB installed, ~90 s); an unpinned
torch pulls the CUDA build (~5.7 GB). A `.complete` file listing the requirements is written
last, so an interrupted install, or changed requirements, installs again.
"""

from __future__ import annotations

import sys
from collections.abc import Callable
from pathlib import Path

from harness._util import CommandFailed, cache_dir, locked, run_logged

TRAINING_REQUIREMENTS = (
    "torch==2.13.0",
    "transformers==5.19.0",
    "accelerate==1.16.0",
    "gguf==0.19.0",
    "peft==0.21.2",
)
"""Pinned: the trainer and the GGUF export are verified against exactly these."""

ENV_NAME = "organisms-train-py311"
MARKER = ".complete"

Say = Callable[[str], None]


class TrainingEnvError(RuntimeError):
    """The training environment could not be created."""


def training_env() -> Path:
    """Folder of the cached training environment."""
    return cache_dir() / ENV_NAME


def training_python(say: Say) -> Path:
    """Python of the training environment, installing it on first use (~90 s)."""
    env = training_env()
    python = env / "bin" / "python"
    wanted = "\n".join(TRAINING_REQUIREMENTS) + "\n"
    marker = env / MARKER
    if marker.is_file() and marker.read_text() == wanted:
        return python
    log = cache_dir() / f"{ENV_NAME}.install.log"
    with locked(cache_dir() / f"{ENV_NAME}.lock", say):
        if marker.is_file() and marker.read_text() == wanted:
            return python
        say(f"creating the training environment {env} (once: ~90 s, ~1.2 GB); log: {log}")
        marker.unlink(missing_ok=True)
        pip = [str(python), "-m", "pip", "install", "--disable-pip-version-check"]
        check = "import torch, transformers, gguf, peft; assert not torch.cuda.is_available()"
        try:
            if not python.is_file():
                run_logged([sys.executable, "-m", "venv", str(env)], log, "create venv")
            seconds = run_logged([*pip, *TRAINING_REQUIREMENTS], log, "pip install")
            run_logged([str(python), "-c", check], log, "verify imports")
        except CommandFailed as exc:
            raise TrainingEnvError(str(exc)) from None
        marker.write_text(wanted)
        say(f"training environment ready in {seconds:.0f}s")
    return python
