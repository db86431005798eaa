"""GPT-2 models of real shapes from a fixed seed, and checkpoint folders written from them.

No weights can be downloaded where this tool runs offline, so benchmarks and tests build their own.
"""

from __future__ import annotations

import json
import shutil
from pathlib import Path

import torch

from gpt2q_desktop.core.paths import bundled_tokenizer_dir

GPT2_VOCAB = 50257


def make_gpt2(
    n_layer: int, n_embd: int = 768, n_head: int = 12, vocab_size: int = GPT2_VOCAB, n_positions: int = 1024, seed: int = 0
) -> torch.nn.Module:
    """A randomly initialised (seeded) FP32 ``GPT2LMHeadModel`` in eval mode."""
    from transformers import GPT2Config, GPT2LMHeadModel

    torch.manual_seed(seed)
    config = GPT2Config(n_layer=n_layer, n_embd=n_embd, n_head=n_head, vocab_size=vocab_size, n_positions=n_positions)
    return GPT2LMHeadModel(config).eval().requires_grad_(False)


def save_checkpoint(model: torch.nn.Module, folder: Path, weights: str = "safetensors", tokenizer: bool = True) -> Path:
    """Write *model* as a Hugging Face folder: ``safetensors`` or ``bin`` weights, plus the GPT-2 tokenizer."""
    folder.mkdir(parents=True, exist_ok=True)
    config = model.config.to_dict()
    (folder / "config.json").write_text(json.dumps(config, indent=2))
    if weights == "safetensors":
        from safetensors.torch import save_model

        save_model(model, str(folder / "model.safetensors"))
    elif weights == "bin":
        torch.save(model.state_dict(), folder / "pytorch_model.bin")
    else:
        raise ValueError(f"unknown weights format {weights!r}")
    if tokenizer:
        for name in ("vocab.json", "merges.txt", "tokenizer_config.json"):
            shutil.copy(bundled_tokenizer_dir() / name, folder / name)
    return folder
