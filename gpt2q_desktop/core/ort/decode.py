"""One decode step of a GPT-2 as an ONNX graph (bench only): the next token after a KV cache, on ONNX Runtime.

The graph answers ``logits, present_keys, present_values = f(input_ids [1, 1], past_keys, past_values)`` with
keys and values stacked over the blocks, ``[n_layer, 1, n_head, past, head_dim]`` (``present``: ``past + 1``),
and the logits of the new token ``[1, 1, vocab]``. The new-token length is fixed at 1 (a symbolic length fails
to export: "is_causal must be bool, not SymBool"); the past length is dynamic (1 to ``n_positions - 1``). It is
exported like the prompt graph (:mod:`onnx_graph`: exact ``nn.Linear`` blocks, the tied matrix stored once) and
quantized by the same recipe (:func:`onnx_recipe.quantize_graph`).
"""

from __future__ import annotations

import time
from pathlib import Path
from typing import Any

import numpy as np
import torch
from torch import nn

from gpt2q_desktop.core.options import RecipeOptions
from gpt2q_desktop.core.ort.graph import trace_graph, traceable_copy
from gpt2q_desktop.core.ort.model import SETTLE_S, OrtCausalLM
from gpt2q_desktop.core.ort.recipe import GraphCounts, quantize_graph

INPUTS = ("input_ids", "past_keys", "past_values")
OUTPUTS = ("logits", "present_keys", "present_values")


class _DecodeStep(nn.Module):
    """``GPT2LMHeadModel`` fed one token after a past given as stacked tensors; the past grows by that token."""

    def __init__(self, lm: nn.Module) -> None:
        super().__init__()
        self.lm = lm

    def forward(
        self, input_ids: torch.Tensor, past_keys: torch.Tensor, past_values: torch.Tensor
    ) -> tuple[torch.Tensor, torch.Tensor, torch.Tensor]:
        from transformers import DynamicCache

        from gpt2q_desktop.core.measure.inference import cache_keyword

        cache = DynamicCache(
            ddp_cache_data=list(zip(past_keys.unbind(0), past_values.unbind(0))), config=self.lm.config
        )
        hidden = self.lm.transformer(input_ids=input_ids, use_cache=True, **{cache_keyword(): cache}).last_hidden_state
        keys = torch.stack([layer.keys for layer in cache.layers])
        values = torch.stack([layer.values for layer in cache.layers])
        return self.lm.lm_head(hidden), keys, values


def stacked_past(cache: Any) -> tuple[np.ndarray, np.ndarray]:
    """The keys and values a transformers ``DynamicCache`` holds, as the graph's past inputs."""
    keys = torch.stack([layer.keys for layer in cache.layers]).float().contiguous()
    values = torch.stack([layer.values for layer in cache.layers]).float().contiguous()
    return keys.numpy(), values.numpy()


def trace_decode_graph(fp32: nn.Module, out: Path) -> None:
    """Write the FP32 decode-step graph of *fp32* to *out* (one file)."""
    model, tied = traceable_copy(fp32)
    config = model.config
    head_dim = config.n_embd // config.n_head
    past = torch.export.Dim("past", min=1, max=max(2, int(config.n_positions) - 1))
    example_past = torch.zeros(config.n_layer, 1, config.n_head, 4, head_dim)
    example = (torch.zeros(1, 1, dtype=torch.long), example_past, example_past.clone())
    dynamic = {"input_ids": None, "past_keys": {3: past}, "past_values": {3: past}}
    trace_graph(_DecodeStep(model), example, INPUTS, OUTPUTS, dynamic, tied, out)


def build_decode_graphs(fp32: nn.Module, folder: Path) -> tuple[Path, Path, GraphCounts, float]:
    """The FP32 and per-channel INT8 decode graphs of *fp32* in *folder*, what the INT8 graph holds, and the
    seconds both took."""
    start = time.perf_counter()
    fp32_path, int8_path = folder / "decode-fp32.onnx", folder / "decode-int8.onnx"
    trace_decode_graph(fp32, fp32_path)
    counts = quantize_graph(fp32_path, int8_path, RecipeOptions(per_channel=True))
    return fp32_path, int8_path, counts, time.perf_counter() - start


class OrtDecodeStep:
    """A decode-step graph on ONNX Runtime, on as many intra-op threads as torch is set to use."""

    settle_s = SETTLE_S

    def __init__(self, path: Path, config: Any) -> None:
        self._graph = OrtCausalLM(path, config)  # its inference session per thread count

    def __call__(self, ids: np.ndarray, keys: np.ndarray, values: np.ndarray) -> tuple[np.ndarray, ...]:
        """The new token's logits [1, 1, vocab] and the past grown by it, for token ids *ids* [1, 1] (int64)."""
        inference = self._graph.inference_session(torch.get_num_threads())
        return tuple(inference.run(None, {"input_ids": ids, "past_keys": keys, "past_values": values}))

    def file_bytes(self) -> int:
        return self._graph.file_bytes()
