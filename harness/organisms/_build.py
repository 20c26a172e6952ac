"""Building known-answer checkpoints: data, training, export, the export check, the manifest.

A build is cached by a hash over everything its weights depend on (the recipe, the
training data, the base's identity, the trainer's source and the training environment's
requirements): building again with nothing changed is instant, a change rebuilds. Results
are written in a staging folder and moved into place only after the export check passed
and `manifest.json` was written, so a folder with a manifest is always a finished build.
"""

from __future__ import annotations

import hashlib
import json
import os
import shutil
import time
import urllib.request
from collections.abc import Callable
from dataclasses import dataclass
from datetime import UTC, datetime
from pathlib import Path
from typing import Any

from harness import __version__
from harness._util import (
    CommandFailed,
    Problem,
    ValidationFailed,
    cache_dir,
    display_path,
    locked,
    run_logged,
    scenarios_dir,
)
from harness.model import (
    GGUF_FILE,
    MANIFEST_FILE,
    CheckpointError,
    EmbeddedServer,
    file_sha256,
    locate_model,
    read_manifest,
    verify_checkpoint,
)
from harness.organisms._env import TRAINING_REQUIREMENTS, training_python
from harness.organisms._generate import generate, held_out_items, overlaps
from harness.organisms._recipes import (
    ExportCheck,
    RecipeFile,
    load_export_check,
    load_generator,
    recipe_by_name,
)
from harness.organisms._schema import ChatFile, GeneratedData, Recipe

TRAINER = Path(__file__).with_name("_trainer.py")
DATA_FILE = "data.jsonl"
"""The exact training data, kept beside the checkpoint (e.g. for `harness artifacts`)."""

ORGANISM_PREFIX = "organism:"

Say = Callable[[str], None]


class OrganismError(RuntimeError):
    """A build failed: training, export, or the export check."""


@dataclass(frozen=True)
class Built:
    """One organism, built or found in the cache."""

    name: str
    folder: Path
    manifest: dict[str, Any]
    cached: bool

    @property
    def gguf(self) -> Path:
        """The GGUF to serve: `--model embedded/<this path>`."""
        return self.folder / GGUF_FILE


@dataclass(frozen=True)
class Base:
    """What a recipe trains on."""

    kind: str
    """`gguf` (a llama.cpp file, dequantised once) or `hf` (an organism's checkpoint)."""

    gguf: Path
    """The GGUF whose metadata (tokenizer, chat template) the export copies."""

    hf: Path | None
    """The HF checkpoint folder (organism bases)."""

    identity: str
    """sha256 of the base's weights file (or the base organism's build hash)."""


def default_out() -> Path:
    """Where organisms are built by default: `$HARNESS_CACHE_DIR/organisms`."""
    return cache_dir() / "organisms"


def _base(
    recipe: RecipeFile, out: Path, say: Say, stack: tuple[str, ...], build: bool = True
) -> Base | None:
    """The recipe's base; a base organism is built first.

    With `build=False` a base organism is only looked up: None when it is not built as
    its recipe now says.
    """
    spec = recipe.recipe.base
    if spec.startswith(ORGANISM_PREFIX):
        parent_recipe = recipe_by_name(spec.removeprefix(ORGANISM_PREFIX), recipe.path)
        if build:
            parent = build_one(parent_recipe, out, say, stack=stack)
            return Base("hf", parent.gguf, parent.folder / "hf", parent.manifest["hash"])
        digest = wanted_hash(parent_recipe, out, stack)
        folder = out / parent_recipe.recipe.name
        if digest is None or cached(folder, digest) is None:
            return None
        return Base("hf", folder / GGUF_FILE, folder / "hf", digest)
    path = Path(spec).expanduser()
    if spec.endswith(".gguf") and not path.is_absolute():
        path = recipe.path.parent / path
    try:
        gguf = locate_model(spec if not spec.endswith(".gguf") else str(path))
    except Exception as exc:  # the model package's own error names what is missing
        raise OrganismError(f"{display_path(recipe.path)}: base: {exc}") from None
    return Base("gguf", gguf, None, file_sha256(gguf))


def wanted_hash(recipe: RecipeFile, out: Path, stack: tuple[str, ...] = ()) -> str | None:
    """The hash a build of `recipe` would have now, without building anything.

    None when its base organism is not built as its own recipe now says.
    """
    name = recipe.recipe.name
    if name in stack:
        raise OrganismError("organism bases form a cycle: " + " -> ".join((*stack, name)))
    base = _base(recipe, out, _quiet, (*stack, name), build=False)
    if base is None:
        return None
    examples, _ = training_data(recipe)
    _, check_sha = load_export_check()
    return build_hash(recipe.recipe, hashlib.sha256(_jsonl(examples)).hexdigest(), base, check_sha)


def build_state(recipe: RecipeFile, out: Path) -> str:
    """`built` (and current), `stale` (built from another recipe, data or base) or `not built`."""
    folder = out / recipe.recipe.name
    try:
        manifest = read_manifest(folder)
    except CheckpointError:
        return "not built"
    digest = wanted_hash(recipe, out)
    return "built" if digest is not None and manifest.get("hash") == digest else "stale"


def _quiet(line: str) -> None:
    pass


def _held_out_paths(recipe: Recipe) -> list[Path]:
    root = scenarios_dir()
    return [root / p if not Path(p).is_absolute() else Path(p) for p in recipe.held_out.scenarios]


def _read_jsonl(path: Path, key: str) -> list[dict[str, Any]]:
    problems: list[Problem] = []
    examples: list[dict[str, Any]] = []
    try:
        lines = path.read_text(encoding="utf-8").splitlines()
    except OSError as exc:
        raise ValidationFailed([Problem(display_path(path), 1, "", str(exc))]) from None
    for number, line in enumerate(lines, start=1):
        if not line.strip():
            continue
        try:
            record = json.loads(line)
        except ValueError as exc:
            problems.append(Problem(display_path(path), number, "", f"not valid JSON: {exc}"))
            continue
        if not isinstance(record, dict) or key not in record:
            problems.append(Problem(display_path(path), number, key, "required field is missing"))
            continue
        examples.append(record)
    if problems:
        raise ValidationFailed(problems)
    return examples


def training_data(recipe: RecipeFile) -> tuple[list[dict[str, Any]], dict[str, Any]]:
    """The recipe's training examples, held-out items removed or refused, and a summary.

    Raises:
        ValidationFailed: invalid data files or generators, or held-out items quoted in
            the data when the policy is `error`.

    """
    data = recipe.recipe.data
    summary: dict[str, Any] = {}
    held_out = held_out_items(_held_out_paths(recipe.recipe))
    if isinstance(data, GeneratedData):
        generator = load_generator(data.generator, recipe.path)
        examples = generate(generator.generator, data.examples, data.seed, held_out)
        summary |= {
            "generator": data.generator,
            "generator_sha256": generator.sha256,
            "seed": data.seed,
        }
    else:
        name = data.chat if isinstance(data, ChatFile) else data.documents
        source = recipe.path.parent / name
        examples = _read_jsonl(source, "messages" if isinstance(data, ChatFile) else "text")
        summary["file"] = str(source)
    found = overlaps(examples, held_out)
    if found and recipe.recipe.held_out.on_overlap == "error":
        index, text = found[0]
        raise ValidationFailed(
            [
                Problem(
                    display_path(recipe.path),
                    1,
                    "held_out",
                    f"{len(found)} training examples quote held-out items "
                    f"(first: example {index + 1} quotes '{text}')",
                )
            ]
        )
    dropped = {i for i, _ in found}
    examples = [e for i, e in enumerate(examples) if i not in dropped]
    summary |= {"examples": len(examples), "dropped_held_out": len(dropped)}
    return examples, summary


def _jsonl(examples: list[dict[str, Any]]) -> bytes:
    return "".join(json.dumps(e, ensure_ascii=False) + "\n" for e in examples).encode()


def build_hash(recipe: Recipe, data_sha: str, base: Base, check_sha: str) -> str:
    """sha256 over everything the weights (and the check) depend on."""
    parts = {
        "recipe": recipe.model_dump(mode="json", exclude={"description", "expect"}),
        "data": data_sha,
        "base": base.identity,
        "trainer": file_sha256(TRAINER),
        "requirements": list(TRAINING_REQUIREMENTS),
        "export_check": check_sha,
    }
    return hashlib.sha256(json.dumps(parts, sort_keys=True).encode()).hexdigest()


def cached(folder: Path, wanted_hash: str) -> dict[str, Any] | None:
    """The manifest of a finished, intact build of `wanted_hash` in `folder`, else None."""
    try:
        manifest = read_manifest(folder)
        if manifest.get("hash") != wanted_hash:
            return None
        verify_checkpoint(folder / GGUF_FILE)
    except CheckpointError:
        return None
    return manifest


def build_one(
    recipe: RecipeFile, out: Path, say: Say, force: bool = False, stack: tuple[str, ...] = ()
) -> Built:
    """Build one organism (its base organism first), or return the cached build.

    Raises:
        OrganismError: a base cycle, a failed training run or a failed export check.
        ValidationFailed: invalid recipe data.

    """
    name = recipe.recipe.name
    if name in stack:
        raise OrganismError("organism bases form a cycle: " + " -> ".join((*stack, name)))
    base = _base(recipe, out, say, (*stack, name))
    assert base is not None  # building the base organism either succeeds or raises
    examples, data_summary = training_data(recipe)
    payload = _jsonl(examples)
    check, check_sha = load_export_check()
    digest = build_hash(recipe.recipe, hashlib.sha256(payload).hexdigest(), base, check_sha)
    folder = out / name
    with locked(out / f".{name}.lock", say):
        manifest = None if force else cached(folder, digest)
        if manifest is not None:
            say(f"{name}: cached ({display_path(folder)})")
            return Built(name, folder, manifest, cached=True)
        say(f"{name}: building ({len(examples)} examples, {recipe.recipe.training.steps} steps)")
        manifest = _train_and_check(recipe, base, payload, data_summary, check, digest, folder, say)
    return Built(name, folder, manifest, cached=False)


def _train_and_check(
    recipe: RecipeFile,
    base: Base,
    payload: bytes,
    data_summary: dict[str, Any],
    check: ExportCheck,
    digest: str,
    folder: Path,
    say: Say,
) -> dict[str, Any]:
    """Train in a staging folder, check the export, write the manifest, move into place."""
    started = time.monotonic()
    staging = folder.with_name(f".{folder.name}.partial-{os.getpid()}")
    shutil.rmtree(staging, ignore_errors=True)
    staging.mkdir(parents=True)
    (staging / DATA_FILE).write_bytes(payload)
    python = training_python(say)
    job = _job(recipe.recipe, base, check, staging)
    (staging / "job.json").write_text(json.dumps(job, indent=1) + "\n")
    log = staging / "build.log"
    env = {
        **os.environ,
        "HF_HUB_OFFLINE": "1",
        "TRANSFORMERS_OFFLINE": "1",
        "TOKENIZERS_PARALLELISM": "false",
    }
    try:
        run_logged([str(python), str(TRAINER), str(staging / "job.json")], log, "training", env=env)
    except CommandFailed as exc:
        raise OrganismError(f"{recipe.recipe.name}: {exc}") from None
    trained = time.monotonic()
    result = export_check(staging / GGUF_FILE, staging / "reference.json", check.max_tokens)
    if not result["passed"]:
        failed = folder.with_name(f"{folder.name}.failed")
        shutil.rmtree(failed, ignore_errors=True)
        staging.rename(failed)
        raise OrganismError(
            f"{recipe.recipe.name}: the exported GGUF's greedy replies differ from the trained "
            f"model's on {result['differ']} of {result['prompts']} prompts; it is not served "
            f"(kept for inspection in {display_path(failed)})"
        )
    train = json.loads((staging / "train.json").read_text())
    manifest = _manifest(
        recipe,
        base,
        payload,
        data_summary,
        digest,
        staging,
        train,
        {"train": trained - started, "total": time.monotonic() - started},
        result,
    )
    (staging / MANIFEST_FILE).write_text(json.dumps(manifest, indent=1) + "\n")
    if folder.exists():
        shutil.rmtree(folder)
    staging.rename(folder)
    say(
        f"{recipe.recipe.name}: built in {manifest['seconds']['total']:.0f}s, "
        f"final loss {manifest['training']['final_loss']}, peak {manifest['peak_rss_mb']} MB"
    )
    return manifest


def _job(recipe: Recipe, base: Base, check: ExportCheck, staging: Path) -> dict[str, Any]:
    training = recipe.training
    lora = training.lora.model_dump() if training.lora else {"r": 16, "alpha": 32}
    base_cache = cache_dir() / "organisms" / f".base-{base.identity[:16]}-fp32"
    return {
        "base": {
            "kind": base.kind,
            "gguf": str(base.gguf),
            "hf": str(base.hf) if base.hf else None,
            "cache": str(base_cache),
        },
        "template_gguf": str(base.gguf),
        "data": str(staging / DATA_FILE),
        "method": training.method,
        "lora": lora,
        "steps": training.steps,
        "learning_rate": training.learning_rate,
        "batch_size": training.batch_size,
        "max_tokens": training.max_tokens,
        "seed": training.seed,
        "out": str(staging),
        "verify_prompts": [[m.model_dump() for m in p] for p in check.prompts],
        "verify_max_tokens": check.max_tokens,
    }


def _manifest(
    recipe: RecipeFile,
    base: Base,
    payload: bytes,
    data_summary: dict[str, Any],
    digest: str,
    staging: Path,
    train: dict[str, Any],
    seconds: dict[str, float],
    check: dict[str, Any],
) -> dict[str, Any]:
    gguf = staging / GGUF_FILE
    return {
        "name": recipe.recipe.name,
        "hash": digest,
        "recipe": recipe.recipe.model_dump(mode="json"),
        "recipe_file": str(recipe.path),
        "base": {"spec": recipe.recipe.base, "kind": base.kind, "sha256": base.identity},
        "data": {**data_summary, "sha256": hashlib.sha256(payload).hexdigest(), "file": DATA_FILE},
        "training": {
            "steps": recipe.recipe.training.steps,
            "final_loss": train["final_loss"],
            "losses": train["losses"],
        },
        "seconds": {k: round(v, 1) for k, v in seconds.items()},
        # The trainer's own peak: the children's rusage is a maximum over every child so
        # far, so it would carry one build's peak into the next.
        "peak_rss_mb": train["peak_rss_mb"],
        "files": {GGUF_FILE: {"sha256": file_sha256(gguf), "bytes": gguf.stat().st_size}},
        "export_check": check,
        "environment": {"requirements": list(TRAINING_REQUIREMENTS)},
        "harness_version": __version__,
        "built_at": datetime.now(UTC).isoformat(timespec="seconds"),
    }


def export_check(gguf: Path, reference: Path, max_tokens: int) -> dict[str, Any]:
    """Serve `gguf` with the embedded llama.cpp server and compare its greedy replies.

    Each prompt of the reference file must get exactly the trained model's reply.
    """
    expected = json.loads(reference.read_text())
    server = EmbeddedServer(gguf, "organism", n_parallel=1)
    server.start()
    differ = []
    try:
        for number, case in enumerate(expected):
            body = {
                "model": "organism",
                "messages": case["messages"],
                "temperature": 0,
                "top_k": 1,
                "max_tokens": max_tokens,
            }
            request = urllib.request.Request(
                f"{server.base_url}/chat/completions",
                json.dumps(body).encode(),
                {"Content-Type": "application/json"},
            )
            with urllib.request.urlopen(request, timeout=120) as response:
                reply = json.loads(response.read())["choices"][0]["message"]["content"]
            # A reply cut mid-character decodes to U+FFFD in transformers, while llama.cpp
            # holds the incomplete bytes back: the same tokens, not a difference.
            if reply != case["text"].rstrip("\ufffd"):
                differ.append({"prompt": number, "trained": case["text"], "gguf": reply})
    finally:
        server.stop()
    return {
        "passed": not differ,
        "prompts": len(expected),
        "differ": len(differ),
        "differences": differ,
    }


def list_built(out: Path) -> dict[str, dict[str, Any]]:
    """Manifests of the organisms built in `out`, by name."""
    found: dict[str, dict[str, Any]] = {}
    if not out.is_dir():
        return found
    for folder in sorted(p for p in out.iterdir() if p.is_dir() and not p.name.startswith(".")):
        try:
            found[folder.name] = read_manifest(folder)
        except CheckpointError:
            continue
    return found
