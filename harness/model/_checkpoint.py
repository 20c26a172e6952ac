"""Fail-closed checks of a built checkpoint before it is served.

A known-answer checkpoint (`harness organisms build`) is a folder with `model.gguf` and a
`manifest.json` written last, recording the GGUF's sha256 and whether the export check
passed. Serving a GGUF that has a manifest beside it first checks both, so a truncated,
corrupt or unverified export is an error, never silently served.
"""

from __future__ import annotations

import hashlib
import json
from pathlib import Path
from typing import Any

MANIFEST_FILE = "manifest.json"
"""Written last into a built checkpoint's folder; its presence marks a finished build."""

GGUF_FILE = "model.gguf"
"""The llama.cpp export inside a built checkpoint's folder."""


class CheckpointError(RuntimeError):
    """A built checkpoint is missing, corrupt or failed its export check."""


def file_sha256(path: Path) -> str:
    """sha256 of a file, read in 1 MB blocks."""
    digest = hashlib.sha256()
    with open(path, "rb") as handle:
        for block in iter(lambda: handle.read(1 << 20), b""):
            digest.update(block)
    return digest.hexdigest()


def read_manifest(folder: Path) -> dict[str, Any]:
    """The manifest of a built checkpoint folder.

    Raises:
        CheckpointError: when it is missing or not a JSON object.

    """
    path = folder / MANIFEST_FILE
    try:
        data = json.loads(path.read_text(encoding="utf-8"))
    except FileNotFoundError:
        raise CheckpointError(f"{folder}: no {MANIFEST_FILE}: the build did not finish") from None
    except (OSError, ValueError) as exc:
        raise CheckpointError(f"{path}: unreadable manifest ({exc})") from None
    if not isinstance(data, dict):
        raise CheckpointError(f"{path}: the manifest is not a JSON object")
    return data


def verify_checkpoint(gguf: Path) -> dict[str, Any] | None:
    """Check a GGUF against the manifest beside it; None when it has none (a plain GGUF).

    Raises:
        CheckpointError: when the file is missing, its size or sha256 differs from the
            manifest's, or the manifest does not record a passed export check.

    """
    folder = gguf.parent
    if not (folder / MANIFEST_FILE).exists():
        if gguf.name == GGUF_FILE and not gguf.is_file():
            raise CheckpointError(f"{gguf}: no such checkpoint (was it built?)")
        return None
    manifest = read_manifest(folder)
    recorded = manifest.get("files", {}).get(gguf.name)
    if not isinstance(recorded, dict):
        raise CheckpointError(f"{gguf}: not listed in {folder / MANIFEST_FILE}")
    if not gguf.is_file():
        raise CheckpointError(f"{gguf}: missing (the manifest lists it): rebuild it")
    if gguf.stat().st_size != recorded.get("bytes") or file_sha256(gguf) != recorded.get("sha256"):
        raise CheckpointError(f"{gguf}: corrupt (size or sha256 differs from the manifest)")
    if manifest.get("export_check", {}).get("passed") is not True:
        raise CheckpointError(f"{gguf}: its export check did not pass; it is never served")
    return manifest
