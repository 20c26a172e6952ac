"""Convert a GGUF model to an HF safetensors checkpoint that vLLM can load.

Usage: python convert_gguf.py GGUF_DIR GGUF_FILE OUTPUT_DIR

Runs in the vLLM environment (needs transformers, gguf, accelerate). Transformers
dequantises the GGUF weights on load; the quantizer is then dropped so that
`save_pretrained` writes plain bfloat16 weights (the dtype vLLM serves on CPU;
~270 MB instead of ~540 MB in float32) and a config without `quantization_config`.
"""

from __future__ import annotations

import sys
import time


def main(argv: list[str]) -> int:
    """Convert; print what was written."""
    if len(argv) != 3:
        print(__doc__, file=sys.stderr)
        return 2
    source, gguf_file, output = argv
    started = time.monotonic()
    import torch
    from transformers import AutoModelForCausalLM, AutoTokenizer

    tokenizer = AutoTokenizer.from_pretrained(source, gguf_file=gguf_file)
    model = AutoModelForCausalLM.from_pretrained(source, gguf_file=gguf_file)
    print(f"loaded {gguf_file} in {time.monotonic() - started:.1f}s", flush=True)
    model = model.to(torch.bfloat16)
    model.config.dtype = torch.bfloat16
    model.hf_quantizer = None
    model.is_quantized = False
    if hasattr(model.config, "quantization_config"):
        del model.config.quantization_config
    model.save_pretrained(output)
    tokenizer.save_pretrained(output)
    print(f"saved {output} in {time.monotonic() - started:.1f}s", flush=True)
    return 0


if __name__ == "__main__":
    sys.exit(main(sys.argv[1:]))
