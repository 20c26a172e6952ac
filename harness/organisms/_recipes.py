"""Finding and loading recipes and generators, with every problem as file:line."""

from __future__ import annotations

import hashlib
from collections.abc import Callable
from dataclasses import dataclass
from pathlib import Path
from typing import Literal

from pydantic import BaseModel, ConfigDict, Field, RootModel

from harness._util import (
    Problem,
    ValidationFailed,
    display_path,
    load_model,
    organisms_dir,
)
from harness.organisms._schema import ChatGenerator, DocumentGenerator, FactPool, Generator, Recipe

LineOf = Callable[[tuple[str | int, ...]], int]

EXPORT_CHECK_FILE = "_export-check.yaml"
"""The fixed prompt set whose greedy replies an exported GGUF must reproduce."""


class _GeneratorFile(RootModel[ChatGenerator | DocumentGenerator]):
    pass


class _PhraseFile(RootModel[dict[str, list[str]]]):
    pass


class Message(BaseModel):
    """One chat message of an export-check prompt."""

    model_config = ConfigDict(extra="forbid", frozen=True)

    role: Literal["system", "user", "assistant"]
    """Who speaks."""

    content: str = Field(min_length=1)
    """What is said."""


class ExportCheck(BaseModel):
    """Prompts the trained model and its GGUF must answer identically (greedy)."""

    model_config = ConfigDict(extra="forbid", frozen=True)

    max_tokens: int = Field(default=32, ge=1, le=512)
    """Tokens generated per prompt."""

    prompts: list[list[Message]] = Field(min_length=1)
    """Conversations ending with a user message."""


@dataclass(frozen=True)
class RecipeFile:
    """A validated recipe and where it came from."""

    path: Path
    recipe: Recipe


@dataclass(frozen=True)
class GeneratorFile:
    """A validated generator with its shared files resolved, and a hash of all of them."""

    path: Path
    generator: Generator
    sha256: str
    """Over the generator file and every file it reads (facts, phrase banks)."""


def recipe_paths(folder: Path | None = None) -> list[Path]:
    """Recipe files of a folder (default: the bundled `organisms/`); `_` files are not recipes."""
    root = folder or organisms_dir()
    return sorted(p for p in root.glob("*.yaml") if not p.name.startswith("_"))


def load_recipe(path: Path, problems: list[Problem]) -> RecipeFile | None:
    """A recipe file, or None with its problems appended."""
    loaded = load_model(path, Recipe, problems)
    if loaded is None:
        return None
    recipe, source = loaded
    if recipe.name != path.stem:
        problems.append(
            Problem(
                display_path(path),
                source.line_of(("name",)),
                "name",
                f"must match the file name '{path.stem}'",
            )
        )
        return None
    return RecipeFile(path, recipe)


def find_recipes(names: list[str], files: list[Path]) -> list[RecipeFile]:
    """Recipes by name (bundled) plus recipe files; all bundled ones when neither is given.

    Raises:
        ValidationFailed: with every problem of every file, or an unknown name.

    """
    problems: list[Problem] = []
    bundled = {p.stem: p for p in recipe_paths()}
    paths: list[Path] = []
    for name in names:
        if name not in bundled:
            known = ", ".join(sorted(bundled)) or "none"
            problems.append(Problem(name, 1, "", f"no bundled recipe of that name ({known})"))
        else:
            paths.append(bundled[name])
    paths += files
    if not names and not files:
        paths = list(bundled.values())
    loaded = [load_recipe(path, problems) for path in paths]
    if problems:
        raise ValidationFailed(problems)
    return [r for r in loaded if r is not None]


def recipe_by_name(name: str, near: Path) -> RecipeFile:
    """The recipe `name`: beside `near` first, then bundled.

    Raises:
        ValidationFailed: when there is none or it is invalid.

    """
    for folder in (near.parent, organisms_dir()):
        path = folder / f"{name}.yaml"
        if path.is_file():
            problems: list[Problem] = []
            found = load_recipe(path, problems)
            if found is None:
                raise ValidationFailed(problems)
            return found
    raise ValidationFailed([Problem(display_path(near), 1, "base", f"no recipe named '{name}'")])


def _sha(paths: list[Path]) -> str:
    digest = hashlib.sha256()
    for path in paths:
        digest.update(path.name.encode() + b"\0" + path.read_bytes() + b"\0")
    return digest.hexdigest()


def load_generator(name: str, recipe_path: Path) -> GeneratorFile:
    """Generator `name`: `generators/<name>.yaml` beside the recipe first, then bundled.

    Raises:
        ValidationFailed: when it is missing, invalid, or names missing phrase banks.

    """
    candidates = [d / "generators" / f"{name}.yaml" for d in (recipe_path.parent, organisms_dir())]
    path = next((p for p in candidates if p.is_file()), None)
    if path is None:
        where = display_path(recipe_path)
        raise ValidationFailed([Problem(where, 1, "data.generator", f"no generator '{name}'")])
    problems: list[Problem] = []
    loaded = load_model(path, _GeneratorFile, problems)
    if loaded is None:
        raise ValidationFailed(problems)
    generator, source = loaded[0].root, loaded[1]
    read = [path]
    if isinstance(generator, ChatGenerator):
        generator, more = _resolve_chat(generator, path, source.line_of, problems)
        read += more
    if problems:
        raise ValidationFailed(problems)
    return GeneratorFile(path, generator, _sha(read))


def _resolve_chat(
    generator: ChatGenerator, path: Path, line_of: LineOf, problems: list[Problem]
) -> tuple[ChatGenerator, list[Path]]:
    """Inline the fact pool and phrase files; check every shape's banks exist."""
    read: list[Path] = []
    facts = generator.facts
    if isinstance(facts, str):
        facts_path = path.parent / facts
        loaded = load_model(facts_path, FactPool, problems)
        facts = loaded[0] if loaded else FactPool()
        read.append(facts_path)
    phrases: dict[str, list[str]] = {}
    for name in generator.phrase_files:
        phrase_path = path.parent / name
        bank = load_model(phrase_path, _PhraseFile, problems)
        phrases.update(bank[0].root if bank else {})
        read.append(phrase_path)
    phrases.update(generator.phrases)
    file = display_path(path)
    for number, shape in enumerate(generator.shapes):
        missing = sorted({m for m in shape.messages if not phrases.get(m)})
        if missing:
            problems.append(
                Problem(
                    file,
                    line_of(("shapes", number, "messages")),
                    f"shapes.{number}.messages",
                    "no phrase bank (or an empty one) named " + ", ".join(missing),
                )
            )
    resolved = generator.model_copy(update={"facts": facts, "phrases": phrases})
    return resolved, read


def load_export_check(folder: Path | None = None) -> tuple[ExportCheck, str]:
    """The export-check prompt set and the sha256 of its file.

    Raises:
        ValidationFailed: when the file is invalid.

    """
    path = (folder or organisms_dir()) / EXPORT_CHECK_FILE
    problems: list[Problem] = []
    loaded = load_model(path, ExportCheck, problems)
    if loaded is None:
        raise ValidationFailed(problems)
    return loaded[0], _sha([path])
