"""The `harness` command line: the console entry point (`harness.cli:main`)."""

from harness._cli import main

__all__ = ["main"]

if __name__ == "__main__":
    raise SystemExit(main())
