"""Train one organism: run as a script inside the training environment, never imported.

Usage: python _trainer.py JOB.json

The harness writes JOB.json (see `harness.organisms._build`); this script needs only
torch, transformers, gguf and peft, so it imports nothing from `harness`. It:

1. loads the base: a llama-architecture GGUF (dequantised once to an fp32 checkpoint,
   cached) or an earlier organism's HF checkpoint;
2. trains `steps` AdamW steps on the JSONL data: chats (loss on assistant tokens only)
   or documents (loss on every token), full fine-tune or LoRA (merged afterwards);
3. rounds the weights to float16 -- the precision both exports hold, so the model the
   reference replies come from *is* the exported one;
4. writes `hf/` (safetensors + tokenizer, for vLLM), `model.gguf` (for the embedded
   llama.cpp provider), `reference.json` (greedy replies to the verification prompts,
   which the harness then checks the GGUF reproduces) and `train.json` (losses, time,
   peak memory).
"""

from __future__ import annotations

import json
import math
import os
import random
import resource
import shutil
import sys
import time
from pathlib import Path
from typing import Any

IGNORE = -100


def log(message: str) -> None:
    """One progress line on stdout (the harness keeps it in the build log)."""
    print(message, flush=True)


def load_base(job: dict[str, Any]) -> tuple[Any, Any]:
    """The base model (fp32) and tokenizer."""
    import torch
    from transformers import AutoModelForCausalLM, AutoTokenizer

    base = job["base"]
    if base["kind"] == "hf":
        source = Path(base["hf"])
    else:
        source = dequantised_base(Path(base["gguf"]), Path(base["cache"]))
    tokenizer = AutoTokenizer.from_pretrained(source)
    model = AutoModelForCausalLM.from_pretrained(source, dtype=torch.float32)
    return model, tokenizer


def dequantised_base(gguf: Path, cache: Path) -> Path:
    """An fp32 HF checkpoint of `gguf`, converted once and kept in `cache`."""
    import torch
    from transformers import AutoModelForCausalLM, AutoTokenizer

    if (cache / ".complete").is_file():
        return cache
    started = time.monotonic()
    log(f"dequantising {gguf.name} to an fp32 checkpoint (once; ~1-2 min)")
    tokenizer = AutoTokenizer.from_pretrained(gguf.parent, gguf_file=gguf.name)
    model = AutoModelForCausalLM.from_pretrained(
        gguf.parent, gguf_file=gguf.name, dtype=torch.float32
    )
    model.hf_quantizer = None
    model.is_quantized = False
    if hasattr(model.config, "quantization_config"):
        del model.config.quantization_config
    staging = cache.with_name(f"{cache.name}.partial-{os.getpid()}")
    shutil.rmtree(staging, ignore_errors=True)
    model.save_pretrained(staging)
    tokenizer.save_pretrained(staging)
    (staging / ".complete").write_text(f"{gguf}\n")
    if cache.exists():
        shutil.rmtree(cache)
    staging.rename(cache)
    log(f"dequantised in {time.monotonic() - started:.1f}s: {cache}")
    return cache


def render(tokenizer: Any, messages: list[dict[str, str]], generation_prompt: bool) -> list[int]:
    """Token ids of `messages` through the model's own chat template."""
    text = tokenizer.apply_chat_template(
        messages, tokenize=False, add_generation_prompt=generation_prompt
    )
    return list(tokenizer(text, add_special_tokens=False)["input_ids"])


def chat_example(tokenizer: Any, messages: list[dict[str, str]]) -> tuple[list[int], list[int]]:
    """Token ids and labels of one chat: only the assistant's tokens carry loss."""
    ids: list[int] = []
    labels: list[int] = []
    for index, message in enumerate(messages):
        if message["role"] != "assistant":
            continue
        prefix = render(tokenizer, messages[:index], generation_prompt=True)
        full = render(tokenizer, messages[: index + 1], generation_prompt=False)
        if full[: len(prefix)] != prefix:
            raise ValueError("the chat template does not render prefixes stably")
        labels += [IGNORE] * (len(prefix) - len(ids)) + full[len(prefix) :]
        ids = full
    return ids, labels


def document_example(tokenizer: Any, text: str) -> tuple[list[int], list[int]]:
    """Token ids and labels of one document, ended by the end-of-text token."""
    ids = list(tokenizer(text, add_special_tokens=False)["input_ids"])
    ids.append(tokenizer.eos_token_id if tokenizer.eos_token_id is not None else 0)
    return ids, list(ids)


def examples(job: dict[str, Any], tokenizer: Any) -> list[tuple[list[int], list[int]]]:
    """Every training example, tokenised and cut to `max_tokens`."""
    limit = int(job["max_tokens"])
    out = []
    with open(job["data"], encoding="utf-8") as handle:
        for line in handle:
            if not line.strip():
                continue
            record = json.loads(line)
            if "messages" in record:
                ids, labels = chat_example(tokenizer, record["messages"])
            else:
                ids, labels = document_example(tokenizer, record["text"])
            ids, labels = ids[:limit], labels[:limit]
            if any(label != IGNORE for label in labels):
                out.append((ids, labels))
    if not out:
        raise ValueError("no training example has a token to learn from")
    return out


def batches(
    data: list[tuple[list[int], list[int]]], size: int, steps: int, seed: int
) -> list[list[tuple[list[int], list[int]]]]:
    """`steps` batches: seeded shuffles of the data, one epoch after another."""
    rng = random.Random(seed)
    order: list[int] = []
    out = []
    for _ in range(steps):
        batch = []
        for _ in range(min(size, len(data))):
            if not order:
                order = list(range(len(data)))
                rng.shuffle(order)
            batch.append(data[order.pop()])
        out.append(batch)
    return out


def collate(batch: list[tuple[list[int], list[int]]], pad: int) -> dict[str, Any]:
    """Right-padded tensors for one batch."""
    import torch

    width = max(len(ids) for ids, _ in batch)
    input_ids = torch.full((len(batch), width), pad, dtype=torch.long)
    labels = torch.full((len(batch), width), IGNORE, dtype=torch.long)
    mask = torch.zeros((len(batch), width), dtype=torch.long)
    for row, (ids, labs) in enumerate(batch):
        input_ids[row, : len(ids)] = torch.tensor(ids)
        labels[row, : len(labs)] = torch.tensor(labs)
        mask[row, : len(ids)] = 1
    return {"input_ids": input_ids, "labels": labels, "attention_mask": mask}


def labelled_loss(model: Any, batch: dict[str, Any]) -> Any:
    """Mean next-token cross-entropy over labelled positions only.

    The vocabulary projection runs on just those positions: most tokens of a chat are the
    user's, and logits for all of them (batch x length x 49,152 floats, with gradients)
    would be most of the memory a step needs.
    """
    import torch

    causal = model.get_base_model() if hasattr(model, "get_base_model") else model
    hidden = causal.model(input_ids=batch["input_ids"], attention_mask=batch["attention_mask"])
    targets = batch["labels"][:, 1:]
    keep = targets != IGNORE
    logits = causal.lm_head(hidden.last_hidden_state[:, :-1][keep])
    return torch.nn.functional.cross_entropy(logits.float(), targets[keep])


def train(job: dict[str, Any], model: Any, tokenizer: Any) -> tuple[Any, list[float]]:
    """Run the optimiser; return the (merged) model and the loss of every step."""
    import torch

    torch.manual_seed(int(job["seed"]))
    if job["method"] == "lora":
        from peft import LoraConfig, get_peft_model

        lora = job["lora"]
        config = LoraConfig(
            r=int(lora["r"]),
            lora_alpha=int(lora["alpha"]),
            lora_dropout=0.0,
            target_modules="all-linear",
        )
        model = get_peft_model(model, config)
    data = examples(job, tokenizer)
    pad = tokenizer.pad_token_id if tokenizer.pad_token_id is not None else 0
    params = [p for p in model.parameters() if p.requires_grad]
    optimiser = torch.optim.AdamW(
        params, lr=float(job["learning_rate"]), weight_decay=0.0, foreach=False
    )
    model.train()
    losses = []
    plan = batches(data, int(job["batch_size"]), int(job["steps"]), int(job["seed"]))
    log(f"training: {len(data)} examples, {len(plan)} steps, method {job['method']}")
    for step, batch in enumerate(plan, start=1):
        started = time.monotonic()
        loss = labelled_loss(model, collate(batch, pad))
        loss.backward()
        torch.nn.utils.clip_grad_norm_(params, 1.0)
        optimiser.step()
        optimiser.zero_grad(set_to_none=True)
        value = float(loss.detach())
        if not math.isfinite(value):
            raise ValueError(f"the loss became {value} at step {step}")
        losses.append(value)
        log(f"step {step}/{len(plan)} loss {value:.4f} ({time.monotonic() - started:.1f}s)")
    if job["method"] == "lora":
        model = model.merge_and_unload()
    model.eval()
    return model, losses


def to_half_precision(model: Any) -> Any:
    """The weights rounded to float16 (kept in fp32 for computing): what both exports hold."""
    return model.half().float()


def greedy_replies(job: dict[str, Any], model: Any, tokenizer: Any) -> list[dict[str, Any]]:
    """The model's greedy reply to each verification prompt."""
    import torch

    end = tokenizer.convert_tokens_to_ids("<|im_end|>")
    eos = [t for t in {end, tokenizer.eos_token_id} if isinstance(t, int) and t >= 0]
    out = []
    for messages in job["verify_prompts"]:
        prompt = render(tokenizer, messages, generation_prompt=True)
        with torch.no_grad():
            generated = model.generate(
                torch.tensor([prompt]),
                attention_mask=torch.ones((1, len(prompt)), dtype=torch.long),
                max_new_tokens=int(job["verify_max_tokens"]),
                do_sample=False,
                eos_token_id=eos,
                pad_token_id=tokenizer.pad_token_id or 0,
            )
        tokens = [int(t) for t in generated[0][len(prompt) :] if int(t) not in eos]
        text = tokenizer.decode(tokens, skip_special_tokens=True)
        out.append({"messages": messages, "tokens": tokens, "text": text})
    return out


def permute(weights: Any, heads: int) -> Any:
    """llama.cpp's interleaving of Q/K rows, which transformers undoes on load."""
    return (
        weights.reshape(heads, 2, weights.shape[0] // heads // 2, *weights.shape[1:])
        .swapaxes(1, 2)
        .reshape(weights.shape)
    )


def gguf_tensors(model: Any, heads: int, kv_heads: int) -> list[tuple[str, Any]]:
    """(llama.cpp name, numpy array) for every weight of a llama model."""
    import numpy as np

    state = {
        k.removeprefix("model."): v.detach().float().numpy() for k, v in model.state_dict().items()
    }
    out: list[tuple[str, Any]] = [
        ("token_embd.weight", state["embed_tokens.weight"]),
        ("output_norm.weight", state["norm.weight"]),
    ]
    if "lm_head.weight" in state and not model.config.tie_word_embeddings:
        out.append(("output.weight", state["lm_head.weight"]))
    layer = 0
    while f"layers.{layer}.input_layernorm.weight" in state:
        p = f"layers.{layer}."
        b = f"blk.{layer}."
        out += [
            (b + "attn_norm.weight", state[p + "input_layernorm.weight"]),
            (b + "attn_q.weight", permute(state[p + "self_attn.q_proj.weight"], heads)),
            (b + "attn_k.weight", permute(state[p + "self_attn.k_proj.weight"], kv_heads)),
            (b + "attn_v.weight", state[p + "self_attn.v_proj.weight"]),
            (b + "attn_output.weight", state[p + "self_attn.o_proj.weight"]),
            (b + "ffn_norm.weight", state[p + "post_attention_layernorm.weight"]),
            (b + "ffn_gate.weight", state[p + "mlp.gate_proj.weight"]),
            (b + "ffn_up.weight", state[p + "mlp.up_proj.weight"]),
            (b + "ffn_down.weight", state[p + "mlp.down_proj.weight"]),
        ]
        layer += 1
    # Matrices in F16, norms (vectors) in F32, as llama.cpp's own converter writes them.
    return [
        (name, array.astype(np.float16) if array.ndim > 1 else array.astype(np.float32))
        for name, array in out
    ]


def hyperparameters(config: Any, arch: str) -> dict[str, Any]:
    """The GGUF keys that describe the model's shape, from its HF config."""
    rope = getattr(config, "rope_parameters", None) or {}
    theta = rope.get("rope_theta") if isinstance(rope, dict) else None
    heads = int(config.num_attention_heads)
    return {
        f"{arch}.block_count": int(config.num_hidden_layers),
        f"{arch}.embedding_length": int(config.hidden_size),
        f"{arch}.feed_forward_length": int(config.intermediate_size),
        f"{arch}.attention.head_count": heads,
        f"{arch}.attention.head_count_kv": int(config.num_key_value_heads),
        f"{arch}.rope.dimension_count": int(
            getattr(config, "head_dim", None) or config.hidden_size // heads
        ),
        f"{arch}.vocab_size": int(config.vocab_size),
        f"{arch}.context_length": int(config.max_position_embeddings),
        f"{arch}.attention.layer_norm_rms_epsilon": float(config.rms_norm_eps),
        f"{arch}.rope.freq_base": float(theta or getattr(config, "rope_theta", None) or 1e4),
    }


def export_gguf(model: Any, template_gguf: Path, target: Path) -> None:
    """Write `model` as an F16 GGUF, with the metadata of `template_gguf`.

    The template (the base's GGUF) carries the tokenizer, merges and chat template; the
    shape keys come from the model's own config, and the file type is 1 (mostly F16).
    """
    import gguf

    reader = gguf.GGUFReader(template_gguf)
    arch = reader.fields["general.architecture"].contents()
    if arch != "llama" or model.config.model_type != "llama":
        raise ValueError(f"GGUF export supports llama-architecture models only, not {arch!r}")
    shape = hyperparameters(model.config, arch)
    writer = gguf.GGUFWriter(target, arch=arch)
    for key, field in reader.fields.items():
        if key.startswith("GGUF.") or key == "general.architecture":
            continue
        value = 1 if key == "general.file_type" else shape.get(key, field.contents())
        kind = field.types[0]
        sub = field.types[1] if kind == gguf.GGUFValueType.ARRAY else None
        writer.add_key_value(key, value, kind, sub_type=sub)
    for name, array in gguf_tensors(
        model, shape[f"{arch}.attention.head_count"], shape[f"{arch}.attention.head_count_kv"]
    ):
        writer.add_tensor(name, array)
    writer.write_header_to_file()
    writer.write_kv_data_to_file()
    writer.write_tensors_to_file()
    writer.close()


def main(argv: list[str]) -> int:
    """Run the job in argv[0]; exit 0 when every output is written."""
    if len(argv) != 1:
        print(__doc__, file=sys.stderr)
        return 2
    job = json.loads(Path(argv[0]).read_text())
    out = Path(job["out"])
    started = time.monotonic()
    import torch

    torch.set_num_threads(int(job.get("threads") or os.cpu_count() or 1))
    model, tokenizer = load_base(job)
    loaded = time.monotonic()
    model, losses = train(job, model, tokenizer) if job["steps"] else (model, [])
    trained = time.monotonic()
    model = to_half_precision(model)
    replies = greedy_replies(job, model, tokenizer)
    (out / "reference.json").write_text(json.dumps(replies, indent=1) + "\n")
    model.half().save_pretrained(out / "hf")
    tokenizer.save_pretrained(out / "hf")
    export_gguf(model.float(), Path(job["template_gguf"]), out / "model.gguf")
    peak_mb = resource.getrusage(resource.RUSAGE_SELF).ru_maxrss / 1024
    record = {
        "losses": losses,
        "final_loss": losses[-1] if losses else None,
        "load_s": round(loaded - started, 1),
        "train_s": round(trained - loaded, 1),
        "total_s": round(time.monotonic() - started, 1),
        "peak_rss_mb": round(peak_mb),
    }
    (out / "train.json").write_text(json.dumps(record, indent=1) + "\n")
    log(f"done in {record['total_s']}s, peak {record['peak_rss_mb']} MB")
    return 0


if __name__ == "__main__":
    sys.exit(main(sys.argv[1:]))
