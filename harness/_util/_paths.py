"""Where the bundled scenarios, rubrics and templates live."""

from __future__ import annotations

import os
from pathlib import Path

_PACKAGE_DIR = Path(__file__).resolve().parent.parent


def _bundled(name: str) -> Path:
    # A wheel install carries the data inside the package (see pyproject's
    # force-include); an editable install or a checkout uses the repo's folders.
    packaged = _PACKAGE_DIR / "_data" / name
    if packaged.is_dir():
        return packaged
    return _PACKAGE_DIR.parent / name


def scenarios_dir() -> Path:
    """The bundled `scenarios/` folder."""
    return _bundled("scenarios")


def graders_dir() -> Path:
    """The bundled `graders/` folder (rubrics, and their templates in `templates/`)."""
    return _bundled("graders")


def organisms_dir() -> Path:
    """The bundled `organisms/` folder (known-answer checkpoint recipes and generators)."""
    return _bundled("organisms")


def cache_dir() -> Path:
    """Root of the harness's caches: `$HARNESS_CACHE_DIR`, default `~/.cache/harness`."""
    return Path(os.environ.get("HARNESS_CACHE_DIR", "~/.cache/harness")).expanduser()


def scenario_templates_dir() -> Path:
    """The bundled attacker templates, `scenarios/templates/`."""
    return scenarios_dir() / "templates"


# Folders under a scenarios root that hold things other than scenario files.
NON_SCENARIO_DIRS = frozenset({"templates", "items", "tactics"})


def display_path(path: Path) -> str:
    """A path relative to the working directory when it is below it."""
    try:
        return str(path.resolve().relative_to(Path.cwd().resolve()))
    except ValueError:
        return str(path)
