"""An exclusive file lock between processes that build the same cached thing."""

from __future__ import annotations

import contextlib
import fcntl
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
