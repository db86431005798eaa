"""Seed-style INT8 folders: a ``quantize_dynamic``-ed GPT-2 state_dict with only ``lm_head`` quantized."""

from __future__ import annotations

from typing import TYPE_CHECKING, Any

from .errors import UnsafeCheckpointError

if TYPE_CHECKING:
    from transformers import GPT2LMHeadModel

SEED_LM_HEAD = "lm_head._packed_params._packed_params"
_SEED_LM_HEAD_EXTRA = ("lm_head.scale", "lm_head.zero_point", "lm_head._packed_params.dtype")


def seed_int8_split(state: dict[str, Any], tied: bool) -> tuple[dict[str, Any], Any, list[str]]:
    """Split a seed INT8 state_dict into FP32 weights and its quantized ``lm_head``."""
    import torch

    packed = state.pop(SEED_LM_HEAD)
    for key in _SEED_LM_HEAD_EXTRA:
        state.pop(key, None)
    if not (isinstance(packed, tuple) and packed and isinstance(packed[0], torch.Tensor) and packed[0].is_quantized):
        raise UnsafeCheckpointError("The seed INT8 lm_head does not hold a quantized weight.")
    qweight, bias = packed[0], packed[1] if len(packed) > 1 else None
    notes = ["Seed INT8 folder (only lm_head quantized): FP32 baseline rebuilt from its FP32 weights."]
    if not tied:
        state["lm_head.weight"] = qweight.dequantize()
        notes.append("lm_head is not tied: the FP32 baseline uses its dequantized INT8 weight (approximate).")
    return state, (qweight, bias), notes


def seed_int8_model(fp32: GPT2LMHeadModel, qweight: Any, bias: Any) -> GPT2LMHeadModel:
    """The seed's own model: FP32 blocks, ``lm_head`` quantized as stored."""
    import copy

    import torch.ao.nn.quantized.dynamic as nnqd

    from .quiet import quiet_torch

    model = copy.copy(fp32)
    model._modules = dict(fp32._modules)  # shallow: share every module except the new lm_head
    with quiet_torch():
        head = nnqd.Linear(1, 1, dtype=qweight.dtype)
        head.set_weight_bias(qweight, bias)
    head.in_features, head.out_features = qweight.shape[1], qweight.shape[0]
    model._modules["lm_head"] = head
    return model
