"""Model serving: the embedded llama.cpp provider and `harness serve` (embedded or vLLM)."""

from harness.model._embedded import EmbeddedModelError, EmbeddedServer, embedded, locate_model
from harness.model._serve import serve_embedded, serve_vllm

__all__ = [
    "EmbeddedModelError",
    "EmbeddedServer",
    "embedded",
    "locate_model",
    "serve_embedded",
    "serve_vllm",
]
