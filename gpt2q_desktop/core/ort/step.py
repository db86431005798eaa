"""What the ONNX graphs compute: one generation step of a GPT-2 with its KV cache, past as one input per block.

A step reads ``input_ids [1, seq]`` after a past of ``past`` tokens (0 for a prompt) and answers the logits at
the given ``positions`` of the new tokens ``[1, k, vocab]`` and each block's present keys and values
``[1, heads, past + seq, head_dim]``. The names are optimum's: ``past_key_values.{i}.key`` / ``.value`` in,
``present.{i}.key`` / ``.value`` out. One graph serves the prompt (an empty past), each decode step (one token)
and a corpus evaluation (every position asked for); its version is ``store.manifest.ONNX_GRAPH_FORMAT``.
Attention is traced in its eager form: its graph has fewer nodes than SDPA's (101 against 121 for a 2-block
model, no IsNaN guards).
"""

from __future__ import annotations

from typing import Any

import torch
from torch import nn

IDS, POSITIONS, LOGITS = "input_ids", "positions", "logits"


def past_names(n_layer: int) -> list[str]:
    return [f"past_key_values.{i}.{kind}" for i in range(n_layer) for kind in ("key", "value")]


def present_names(n_layer: int) -> list[str]:
    return [f"present.{i}.{kind}" for i in range(n_layer) for kind in ("key", "value")]


def eager(model: nn.Module) -> nn.Module:
    """*model* with eager attention (explicit mask: traceable with a symbolic length beside a past)."""
    if hasattr(model, "set_attn_implementation"):
        model.set_attn_implementation("eager")
    else:
        model.config._attn_implementation = "eager"
    return model


def _cache(lm: nn.Module, past: tuple[torch.Tensor, ...]) -> Any:
    from transformers import DynamicCache

    pairs = [(past[2 * i], past[2 * i + 1]) for i in range(len(past) // 2)]
    return DynamicCache(ddp_cache_data=pairs, config=lm.config)


def _hidden(lm: nn.Module, input_ids: torch.Tensor, cache: Any, past_len: Any) -> torch.Tensor:
    from gpt2q_desktop.core.measure.inference import cache_keyword

    positions = torch.arange(past_len, past_len + input_ids.shape[1]).unsqueeze(0)
    out = lm.transformer(input_ids=input_ids, position_ids=positions, use_cache=True, **{cache_keyword(): cache})
    return out.last_hidden_state


def _presents(cache: Any) -> tuple[torch.Tensor, ...]:
    return tuple(t for layer in cache.layers for t in (layer.keys, layer.values))


class GenerationStep(nn.Module):
    """``GPT2LMHeadModel`` as this tool's graph: new tokens after a past, the logits at *positions* only."""

    def __init__(self, lm: nn.Module) -> None:
        super().__init__()
        self.lm = lm

    def forward(
        self, input_ids: torch.Tensor, positions: torch.Tensor, *past: torch.Tensor
    ) -> tuple[torch.Tensor, ...]:
        cache = _cache(self.lm, past)
        hidden = _hidden(self.lm, input_ids, cache, past[0].shape[2])
        return (self.lm.lm_head(hidden.index_select(1, positions)), *_presents(cache))


class PlainStep(nn.Module):
    """``GPT2LMHeadModel`` as a plain export has it (optimum's, ONNX Runtime's GPT-2 docs): logits at every
    position of the new tokens, past and present per block."""

    def __init__(self, lm: nn.Module) -> None:
        super().__init__()
        self.lm = lm

    def forward(self, input_ids: torch.Tensor, *past: torch.Tensor) -> tuple[torch.Tensor, ...]:
        cache = _cache(self.lm, past)
        hidden = _hidden(self.lm, input_ids, cache, past[0].shape[2])
        return (self.lm.lm_head(hidden), *_presents(cache))


def example_past(config: Any, length: int = 4) -> tuple[torch.Tensor, ...]:
    head_dim = config.n_embd // config.n_head
    return tuple(torch.zeros(1, config.n_head, length, head_dim) for _ in range(2 * config.n_layer))


def dynamic_past(config: Any) -> tuple[dict[int, Any], ...]:
    """The past's symbolic length (0 for a prompt) for the exporter."""
    past = torch.export.Dim("past", min=0, max=max(2, int(config.n_positions) - 1))
    return tuple({2: past} for _ in range(2 * config.n_layer))


def sequence_dim(config: Any, name: str = "seq") -> Any:
    return torch.export.Dim(name, min=1, max=max(2, int(config.n_positions)))
