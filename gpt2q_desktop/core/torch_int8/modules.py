"""The INT8 building blocks of the recipe: INT8 embeddings and linears, the exact Conv1D→Linear
conversion, and counts of what a model really holds."""

from __future__ import annotations

import torch
import torch.ao.nn.quantized.dynamic as nnqd
from torch import nn


class Int8Embedding(nn.Module):
    """An embedding stored as INT8 rows with one FP32 scale per row; gathered rows are dequantized."""

    def __init__(self, weight_int8: torch.Tensor, scales: torch.Tensor) -> None:
        super().__init__()
        self.register_buffer("weight_int8", weight_int8)
        self.register_buffer("scales", scales.float())
        self.num_embeddings, self.embedding_dim = weight_int8.shape

    def forward(self, ids: torch.Tensor) -> torch.Tensor:
        return self.weight_int8[ids].float() * self.scales[ids].unsqueeze(-1)

    @property
    def weight(self) -> torch.Tensor:
        """The dequantized matrix (for code that reads ``.weight.dtype`` or ``.device``)."""
        return self.weight_int8.float() * self.scales.unsqueeze(-1)

    def extra_repr(self) -> str:
        return f"{self.num_embeddings}, {self.embedding_dim}, int8 rows"


def per_row_int8(weight: torch.Tensor) -> tuple[torch.Tensor, torch.Tensor]:
    """Symmetric INT8 per row, exactly as torch's per-channel weight observer rounds it."""
    observer = torch.ao.quantization.PerChannelMinMaxObserver(
        ch_axis=0, dtype=torch.qint8, qscheme=torch.per_channel_symmetric
    )
    observer(weight)
    scales, zeros = observer.calculate_qparams()
    q = torch.quantize_per_channel(weight, scales.double(), zeros, 0, torch.qint8)
    return q.int_repr(), scales.float()


class RowScaledLinear(nnqd.Linear):
    """torch's dynamic INT8 linear, except that a weight with one scale per output row (zero points 0) is packed as
    an unscaled matrix and its row scales are applied to the output. torch reads per-row scales one at a time when
    it packs them, about 2 µs a row: 0.1 s for the 50,257 rows of GPT-2's ``lm_head`` (figures in
    docs/performance.md). The outputs agree with torch's per-row kernel to float rounding (1e-7 relative)."""

    row_scales: torch.Tensor | None = None
    row_bias: torch.Tensor | None = None

    def set_weight_bias(self, w: torch.Tensor, b: torch.Tensor | None) -> None:
        per_row = w.qscheme() in (torch.per_channel_affine, torch.per_channel_symmetric)
        if not (per_row and w.q_per_channel_axis() == 0 and not w.q_per_channel_zero_points().any()):
            self.row_scales = self.row_bias = None
            super().set_weight_bias(w, b)
            return
        unscaled = torch._make_per_tensor_quantized_tensor(w.int_repr(), 1.0, 0)
        super().set_weight_bias(unscaled, None)
        self.row_scales = w.q_per_channel_scales().float()
        self.row_bias = None if b is None else b.detach()  # a plain tensor, as torch keeps it: not a parameter

    def _weight_bias(self) -> tuple[torch.Tensor, torch.Tensor | None]:
        if self.row_scales is None:
            return super()._weight_bias()
        unscaled, _ = super()._weight_bias()
        zeros = torch.zeros(self.row_scales.shape, dtype=torch.long)
        weight = torch._make_per_channel_quantized_tensor(unscaled.int_repr(), self.row_scales.double(), zeros, 0)
        return weight, self.row_bias

    def forward(self, x: torch.Tensor) -> torch.Tensor:
        y = super().forward(x)
        if self.row_scales is None:
            return y
        y = y * self.row_scales
        return y if self.row_bias is None else y + self.row_bias


def dynamic_linear(int8: torch.Tensor, scales: torch.Tensor, zeros: torch.Tensor, bias: torch.Tensor | None) -> nn.Module:
    """A dynamic INT8 linear straight from stored INT8 weights and scales (no observer pass)."""
    if scales.numel() == 1:
        qweight = torch._make_per_tensor_quantized_tensor(int8, float(scales.item()), int(zeros.item()))
    else:
        qweight = torch._make_per_channel_quantized_tensor(int8, scales.double(), zeros.long(), 0)
    return packed_linear(qweight, bias)


def packed_linear(qweight: torch.Tensor, bias: torch.Tensor | None) -> RowScaledLinear:
    """A dynamic INT8 linear holding the quantized weight *qweight* (out × in) and the float *bias*."""
    head = RowScaledLinear(1, 1, dtype=torch.qint8)  # tiny placeholder: no large prepack
    head.set_weight_bias(qweight, bias)
    head.in_features, head.out_features = qweight.shape[1], qweight.shape[0]
    return head


def conv1d_to_linear(conv: nn.Module) -> nn.Linear:
    """An ``nn.Linear`` that computes exactly what a transformers ``Conv1D`` computes."""
    weight = conv.weight  # Conv1D stores [in, out]
    linear = nn.Linear(weight.shape[0], weight.shape[1], device="meta")
    linear.weight = nn.Parameter(weight.detach().t().contiguous(), requires_grad=False)
    linear.bias = nn.Parameter(conv.bias.detach().clone(), requires_grad=False)
    return linear


def convert_all_conv1d(model: nn.Module) -> int:
    """Replace every ``Conv1D`` in *model* by its exact ``nn.Linear``; returns how many."""
    from transformers.pytorch_utils import Conv1D

    targets = [(name, m) for name, m in model.named_modules() if isinstance(m, Conv1D)]
    for name, module in targets:
        set_submodule(model, name, conv1d_to_linear(module))
    return len(targets)


def set_submodule(root: nn.Module, path: str, module: nn.Module) -> None:
    parent_path, _, child = path.rpartition(".")
    parent = root.get_submodule(parent_path) if parent_path else root
    setattr(parent, child, module)


def count_quantized(model: nn.Module) -> int:
    """How many linears in *model* really are dynamic INT8 linears."""
    return sum(isinstance(m, nnqd.Linear) for m in model.modules())


def count_int8_embeddings(model: nn.Module) -> int:
    """How many embeddings in *model* are stored as INT8 rows."""
    return sum(isinstance(m, Int8Embedding) for m in model.modules())


def count_eligible(n_layer: int) -> int:
    """Linears a GPT-2 of *n_layer* blocks has: four per block, plus ``lm_head``."""
    return 4 * n_layer + 1


def unique_tensor_bytes(model: nn.Module) -> int:
    """Bytes of the model's FP32 weights, tied tensors counted once (what a safetensors file holds)."""
    seen: set[int] = set()
    total = 0
    for t in list(model.parameters()) + list(model.buffers()):
        if t.data_ptr() not in seen:
            seen.add(t.data_ptr())
            total += t.numel() * t.element_size()
    return total
