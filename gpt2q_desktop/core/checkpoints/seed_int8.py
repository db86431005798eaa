"""Seed-style INT8 folders: a ``quantize_dynamic``-ed GPT-2 state_dict with only ``lm_head`` quantized."""

from __future__ import annotations

from typing import TYPE_CHECKING, Any

from gpt2q_desktop.core.errors import ArchitectureError, CheckpointError, UnsafeCheckpointError

if TYPE_CHECKING:
    from transformers import GPT2LMHeadModel

SEED_LM_HEAD = "lm_head._packed_params._packed_params"
_SEED_LM_HEAD_EXTRA = ("lm_head.scale", "lm_head.zero_point", "lm_head._packed_params.dtype")


def seed_int8_split(state: dict[str, Any], tied: bool) -> tuple[dict[str, Any], Any, list[str]]:
    """Split a seed INT8 state_dict into FP32 weights and its quantized ``lm_head`` (checked, finite)."""
    import torch

    packed = state.pop(SEED_LM_HEAD)
    for key in _SEED_LM_HEAD_EXTRA:
        state.pop(key, None)
    qweight, bias = _checked_head(packed)
    wte = state.get("transformer.wte.weight")
    if tied and isinstance(wte, torch.Tensor) and tuple(wte.shape) != tuple(qweight.shape):
        raise ArchitectureError(
            f"The seed INT8 lm_head is {tuple(qweight.shape)} but transformer.wte.weight is {tuple(wte.shape)}: "
            "they do not belong together."
        )
    notes = ["Seed INT8 folder (only lm_head quantized): FP32 baseline rebuilt from its FP32 weights."]
    if not tied:
        state["lm_head.weight"] = qweight.dequantize()
        notes.append("lm_head is not tied: the FP32 baseline uses its dequantized INT8 weight (approximate).")
    return state, (qweight, bias), notes


def _checked_head(packed: Any) -> tuple[Any, Any]:
    """The quantized weight and float bias of a seed's packed ``lm_head``, refused unless well-formed and finite."""
    import torch

    qweight = packed[0] if isinstance(packed, tuple) and len(packed) in (1, 2) else None
    if not (isinstance(qweight, torch.Tensor) and qweight.is_quantized and qweight.dtype == torch.qint8
            and qweight.dim() == 2):  # fmt: skip
        raise UnsafeCheckpointError("The seed INT8 lm_head does not hold a quantized weight.")
    bias = packed[1] if len(packed) > 1 else None
    if bias is not None and not (
        isinstance(bias, torch.Tensor) and bias.is_floating_point() and tuple(bias.shape) == (qweight.shape[0],)
    ):
        raise UnsafeCheckpointError("The seed INT8 lm_head has a malformed bias.")
    finite = bool(torch.isfinite(qweight.dequantize()).all()) and (bias is None or bool(torch.isfinite(bias).all()))
    if not finite:
        raise CheckpointError("The seed INT8 lm_head holds NaN or infinite values; refused before anything was built.")
    return qweight, bias


def seed_int8_model(fp32: GPT2LMHeadModel, qweight: Any, bias: Any) -> GPT2LMHeadModel:
    """The seed's own model: FP32 blocks, ``lm_head`` quantized as stored, packed for the INT8 kernels chosen
    for this platform (:mod:`~gpt2q_desktop.core.torch_int8.kernels`)."""
    import copy

    from gpt2q_desktop.core.quiet import quiet_torch
    from gpt2q_desktop.core.torch_int8.kernels import fitted, use_int8_kernels
    from gpt2q_desktop.core.torch_int8.modules import packed_linear

    kernels = use_int8_kernels()
    model = copy.copy(fp32)
    model._modules = dict(fp32._modules)  # shallow: share every module except the new lm_head
    with quiet_torch():
        head = packed_linear(qweight, bias)
    model._modules["lm_head"] = fitted(head, kernels)
    return model
