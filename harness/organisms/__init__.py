"""Known-answer checkpoints ("model organisms"): plant a behaviour in a base model, on CPU.

A recipe (`organisms/<name>.yaml`) names a base, training data (a seeded generator, your own
chat JSONL or documents), held-out scenario items and the training settings; `build_one`
trains it in a cached torch environment, exports a GGUF the embedded provider serves, checks
the export reproduces the trained model's greedy replies, and records a manifest.
`judge` decides from evaluation results whether the planted behaviour was found.
"""

from harness.organisms._build import (
    DATA_FILE,
    Built,
    OrganismError,
    build_hash,
    build_one,
    build_state,
    default_out,
    export_check,
    list_built,
    training_data,
)
from harness.organisms._env import TRAINING_REQUIREMENTS, TrainingEnvError, training_python
from harness.organisms._generate import (
    HeldOutItems,
    generate,
    held_out_items,
    normalise,
    overlaps,
)
from harness.organisms._recipes import (
    ExportCheck,
    GeneratorFile,
    RecipeFile,
    find_recipes,
    load_export_check,
    load_generator,
    load_recipe,
    recipe_paths,
)
from harness.organisms._schema import Expectation, Recipe

__all__ = [
    "DATA_FILE",
    "TRAINING_REQUIREMENTS",
    "Built",
    "Expectation",
    "ExportCheck",
    "GeneratorFile",
    "HeldOutItems",
    "OrganismError",
    "Recipe",
    "RecipeFile",
    "TrainingEnvError",
    "build_hash",
    "build_one",
    "build_state",
    "default_out",
    "export_check",
    "find_recipes",
    "generate",
    "held_out_items",
    "list_built",
    "load_export_check",
    "load_generator",
    "load_recipe",
    "normalise",
    "overlaps",
    "recipe_paths",
    "training_data",
    "training_python",
]
