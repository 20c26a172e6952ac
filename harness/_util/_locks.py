"""Building cached things: an exclusive file lock between processes, and logged commands."""

from __future__ import annotations

import contextlib
import fcntl
import subprocess
import time
from collections.abc import Callable, Iterator
from pathlib import Path


@contextlib.contextmanager
def locked(path: Path, say: Callable[[str], None]) -> Iterator[None]:
    """Hold an exclusive `fcntl` lock on `path` (created if needed) for the block.

    When another process holds it, `say` is told, and again once the lock is acquired.
    """
    path.parent.mkdir(parents=True, exist_ok=True)
    with open(path, "a") as handle:
        try:
            fcntl.flock(handle, fcntl.LOCK_EX | fcntl.LOCK_NB)
        except BlockingIOError:
            say(f"waiting for another process holding {path}")
            started = time.monotonic()
            fcntl.flock(handle, fcntl.LOCK_EX)
            say(f"lock acquired after {time.monotonic() - started:.0f}s")
        try:
            yield
        finally:
            fcntl.flock(handle, fcntl.LOCK_UN)


class CommandFailed(RuntimeError):
    """A logged command exited non-zero; the message ends with its log's last lines."""


def run_logged(command: list[str], log: Path, what: str, **kwargs: object) -> float:
    """Run `command` with its output appended to `log`; seconds taken.

    Raises:
        CommandFailed: when the command fails (with the log's last 30 lines).

    """
    started = time.monotonic()
    with open(log, "ab") as out:
        out.write(f"\n$ {' '.join(command)}\n".encode())
        out.flush()
        result = subprocess.run(
            command, stdout=out, stderr=subprocess.STDOUT, stdin=subprocess.DEVNULL, **kwargs
        )  # type: ignore[call-overload]
    elapsed = time.monotonic() - started
    if result.returncode != 0:
        tail = "\n".join(log.read_text(errors="replace").splitlines()[-30:])
        raise CommandFailed(
            f"{what} failed (exit {result.returncode}) after {elapsed:.0f}s; log: {log}\n{tail}"
        )
    return elapsed
