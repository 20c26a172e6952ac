"""Model serving: the embedded llama.cpp provider, `harness serve`, built-checkpoint checks."""

from harness.model._checkpoint import (
    GGUF_FILE,
    MANIFEST_FILE,
    CheckpointError,
    file_sha256,
    read_manifest,
    verify_checkpoint,
)
from harness.model._embedded import EmbeddedModelError, EmbeddedServer, embedded, locate_model
from harness.model._serve import serve_embedded, serve_vllm

__all__ = [
    "GGUF_FILE",
    "MANIFEST_FILE",
    "CheckpointError",
    "EmbeddedModelError",
    "EmbeddedServer",
    "embedded",
    "file_sha256",
    "locate_model",
    "read_manifest",
    "serve_embedded",
    "serve_vllm",
    "verify_checkpoint",
]
