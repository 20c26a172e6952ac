"""Run inspect's command line in this process and record where its time and CPU went.

    python bench/_inspect_cpu.py OUT.json eval TASK [inspect options...]
    python bench/_inspect_cpu.py OUT.json --entry harness.cli:main run [options...]

Writes to OUT.json, at exit: CPU seconds and wall time at interpreter start, after
importing inspect's CLI (or the `--entry` command line), and at exit. The difference
between the last two is the run itself (task loading, the eval, writing the log)
without the fixed cost of starting Python and importing inspect, which any
inspect-based tool pays once per process. Standard library only, so Petri's own
interpreter can run it by path too.
"""

from __future__ import annotations

import atexit
import importlib
import json
import resource
import sys
import time


def _cpu() -> float:
    usage = resource.getrusage(resource.RUSAGE_SELF)
    return usage.ru_utime + usage.ru_stime


def main() -> None:
    """Import the command line, run it with the remaining arguments, record at exit."""
    out, args = sys.argv[1], sys.argv[2:]
    entry = "inspect_ai._cli.main:main"
    if args[:1] == ["--entry"]:
        entry, args = args[1], args[2:]
    marks = {"start": (time.time(), _cpu())}
    module, _, function = entry.partition(":")
    command = getattr(importlib.import_module(module), function)
    marks["imported"] = (time.time(), _cpu())

    def write() -> None:
        marks["exit"] = (time.time(), _cpu())
        children = resource.getrusage(resource.RUSAGE_CHILDREN)
        record = {name: {"wall": wall, "cpu": cpu} for name, (wall, cpu) in marks.items()}
        record["children_cpu"] = children.ru_utime + children.ru_stime  # type: ignore[assignment]
        with open(out, "w", encoding="utf-8") as handle:
            json.dump(record, handle)

    atexit.register(write)
    sys.argv = [module.split(".")[0], *args]
    sys.exit(command())


if __name__ == "__main__":
    main()
