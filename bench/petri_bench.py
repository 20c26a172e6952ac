"""The peer tool Petri (`inspect-petri`) in its own virtualenv, for the side-by-side benchmark.

Every inspect-petri 3.x release needs Python >= 3.12 and the harness runs on 3.11, so
Petri gets a venv of its own under `~/.cache/harness/petri-venv`, created on first use
from a Python 3.12 interpreter (pyenv's, or `python3.12` on PATH) with pinned
packages from PyPI (about a minute, 680 MB). Nothing else is downloaded: Petri's
context compaction (which would fetch tiktoken's encoding) is turned off per run.
"""

from __future__ import annotations

import shutil
import subprocess
from pathlib import Path

PETRI_VENV = Path.home() / ".cache" / "harness" / "petri-venv"
PETRI_PINS = ("inspect-ai==0.3.285", "inspect-petri==3.1.1", "openai==3.54.0")
"""Petri, the same inspect-ai as the harness, and the same `openai` for `openai-api/`."""
_STAMP = PETRI_VENV / ".bench-pins"


def python312() -> Path | None:
    """A Python 3.12 interpreter: pyenv's newest 3.12, else `python3.12` on PATH."""
    pyenv = sorted((Path.home() / ".pyenv" / "versions").glob("3.12*/bin/python"))
    if pyenv:
        return pyenv[-1]
    found = shutil.which("python3.12")
    return Path(found) if found else None


def ensure_petri(log: Path) -> Path | str:
    """Petri's interpreter, creating or updating its venv when needed; or why it cannot run.

    Output of venv creation and pip goes to `log`.
    """
    python = PETRI_VENV / "bin" / "python"
    wanted = "\n".join(PETRI_PINS)
    if python.is_file() and _STAMP.is_file() and _STAMP.read_text() == wanted:
        return python
    with log.open("a") as out:
        if not python.is_file():
            base = python312()
            if base is None:
                return "no Python 3.12 interpreter (inspect-petri needs >= 3.12)"
            made = subprocess.run(
                [str(base), "-m", "venv", str(PETRI_VENV)], stdout=out, stderr=out, check=False
            )
            if made.returncode != 0:
                return f"could not create Petri's venv with {base} (see {log})"
        pip = [str(python), "-m", "pip", "install", "--quiet", "--disable-pip-version-check"]
        installed = subprocess.run([*pip, *PETRI_PINS], stdout=out, stderr=out, check=False)
    if installed.returncode != 0:
        return f"pip install {' '.join(PETRI_PINS)} failed (see {log})"
    _STAMP.write_text(wanted)
    return python
