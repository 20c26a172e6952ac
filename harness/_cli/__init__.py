"""The `harness` command line: one module per command; only this package prints."""

from harness._cli._main import main

__all__ = [
    "main",
]
