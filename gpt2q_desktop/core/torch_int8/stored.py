"""The recipe's modules rebuilt from a cache entry's tensors, each tensor checked against the model's skeleton.

A cache entry is untrusted input even when its checksum matches (the manifest can be edited with it): every
tensor the rebuild takes must be there, with the shape and dtype the skeleton of the config expects, so a missing
bias, a transposed matrix or a short embedding raises ``ValueError`` while loading, never later in a forward pass.
"""

from __future__ import annotations

from typing import Any

import torch
from torch import nn

from gpt2q_desktop.core.torch_int8.modules import Int8Embedding, dynamic_linear


def take(tensors: dict[str, torch.Tensor], key: str, dtype: torch.dtype, *shapes: tuple[int, ...]) -> torch.Tensor:
    """Remove and return ``tensors[key]``; ``ValueError`` if it is missing, or not of *dtype* and one of *shapes*."""
    tensor = tensors.pop(key, None)
    if tensor is None:
        raise ValueError(f"tensor {key} is missing")
    if tensor.dtype != dtype or tuple(tensor.shape) not in shapes:
        wanted = " or ".join(str(list(s)) for s in shapes)
        raise ValueError(f"tensor {key} is {tensor.dtype} {list(tensor.shape)}, not {dtype} {wanted}")
    return tensor


def _module(model: nn.Module, name: str, kind: type[nn.Module]) -> Any:
    try:
        module = model.get_submodule(name)
    except AttributeError:
        module = None
    if not isinstance(module, kind):
        raise ValueError(f"the model has no {kind.__name__} {name}")
    return module


def stored_embedding(model: nn.Module, name: str, tensors: dict[str, torch.Tensor]) -> Int8Embedding:
    """The INT8 embedding *name* from its stored rows and scales (as many as the skeleton's embedding has)."""
    rows, width = _module(model, name, nn.Embedding).weight.shape
    int8 = take(tensors, f"{name}.weight_int8", torch.int8, (rows, width))
    return Int8Embedding(int8, take(tensors, f"{name}.scales", torch.float32, (rows,)))


def stored_linear(model: nn.Module, name: str, tensors: dict[str, torch.Tensor], shares_wte: bool) -> nn.Module:
    """The dynamic INT8 linear *name* from its stored weight, scales, zero points and bias (present exactly when
    the skeleton's linear has one); ``lm_head`` from the INT8 token embedding when *shares_wte*."""
    linear = _module(model, name, nn.Linear)
    out_features, in_features = linear.weight.shape
    if name == "lm_head" and shares_wte:
        wte = model.transformer.wte
        if not isinstance(wte, Int8Embedding) or tuple(wte.weight_int8.shape) != (out_features, in_features):
            raise ValueError("lm_head shares an INT8 token embedding the entry does not hold")
        return dynamic_linear(wte.weight_int8, wte.scales, torch.zeros(wte.scales.shape, dtype=torch.long), None)
    weight = take(tensors, f"{name}.weight_int8", torch.int8, (out_features, in_features))
    scales = take(tensors, f"{name}.weight_scales", torch.float32, (1,), (out_features,))
    zeros = take(tensors, f"{name}.weight_zero_points", torch.int32, tuple(scales.shape))
    bias = None if linear.bias is None else take(tensors, f"{name}.bias", torch.float32, (out_features,))
    return dynamic_linear(weight, scales, zeros, bias)


def assign_plain(model: nn.Module, tensors: dict[str, torch.Tensor]) -> None:
    """Put each remaining stored tensor in the parameter or buffer of that name, which must exist with the same
    shape and dtype."""
    for key, tensor in tensors.items():
        owner, _, leaf = key.rpartition(".")
        try:
            module = model.get_submodule(owner)
        except AttributeError:
            module = None
        slots = None if module is None else module._parameters if leaf in module._parameters else module._buffers
        old = None if slots is None else slots.get(leaf)
        if old is None:
            raise ValueError(f"unexpected tensor {key}")
        if tensor.dtype != old.dtype or tensor.shape != old.shape:
            raise ValueError(f"tensor {key} is {tensor.dtype} {list(tensor.shape)}, not {old.dtype} {list(old.shape)}")
        slots[leaf] = nn.Parameter(tensor, requires_grad=False) if slots is module._parameters else tensor
