"""The INT8 quantization recipe, behind one small interface so another backend can be added.

:class:`DynamicInt8Recipe` converts every GPT-2 ``Conv1D`` into an exact ``nn.Linear`` (transposed
weight), then quantizes each block linear to a dynamic INT8 linear (fbgemm engine), optionally
``lm_head`` too, and optionally stores the token/position embeddings as INT8 rows. GPT-2 ties ``wte``
and ``lm_head``: when both are INT8 they share one INT8 matrix with per-row scales, stored once.

A backend turns an FP32 model into a quantized one (:meth:`quantize`), flattens that into plain
tensors + a layout for the cache (:meth:`export`) and builds the model back from them without running
the recipe again (:meth:`rebuild`).
"""

from __future__ import annotations

import copy
import time
from collections.abc import Callable
from dataclasses import dataclass, field
from typing import Any, Protocol

import torch
from torch import nn

from .errors import Cancelled
from .options import RecipeOptions
from .quiet import quiet_torch

ProgressFn = Callable[[int, int, str], None]
"""``progress(done, total, message)``."""
CancelFn = Callable[[], bool]
"""Returns True when the user asked to stop."""

BLOCK_LINEARS = ("attn.c_attn", "attn.c_proj", "mlp.c_fc", "mlp.c_proj")


def use_quantized_engine(engine: str | None = None) -> str:
    """Select *engine*, or else fbgemm where available; returns the engine in use.

    fbgemm, not its successor "x86", by measurement: on the 12-layer GPT-2 here (AVX-512), INT8 next-token
    calls are about 9 % faster with fbgemm at 1 and 2 threads (``tools/tune_int8.py``).
    """
    engines = torch.backends.quantized.supported_engines
    if engine is not None:
        if engine not in engines:
            from .errors import Gpt2qError

            raise Gpt2qError(f"The quantized engine {engine!r} is not available here (only {', '.join(engines)}).")
        torch.backends.quantized.engine = engine
        return engine
    for candidate in ("fbgemm", "x86", "qnnpack"):
        if candidate in engines:
            torch.backends.quantized.engine = candidate
            return candidate
    return torch.backends.quantized.engine


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


def dynamic_linear(int8: torch.Tensor, scales: torch.Tensor, zeros: torch.Tensor, bias: torch.Tensor | None) -> nn.Module:
    """A dynamic INT8 linear straight from stored INT8 weights and scales (no observer pass)."""
    import torch.ao.nn.quantized.dynamic as nnqd

    if scales.numel() == 1:
        qweight = torch._make_per_tensor_quantized_tensor(int8, float(scales.item()), int(zeros.item()))
    else:
        qweight = torch._make_per_channel_quantized_tensor(int8, scales.double(), zeros.long(), 0)
    head = nnqd.Linear(1, 1, dtype=torch.qint8)  # tiny placeholder: no large prepack
    head.set_weight_bias(qweight, bias)
    head.in_features, head.out_features = int8.shape[1], int8.shape[0]
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
    import torch.ao.nn.quantized.dynamic as nnqd

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


@dataclass
class Exported:
    """A quantized model flattened for storage: plain tensors plus the layout to rebuild it."""

    tensors: dict[str, torch.Tensor]
    layout: dict[str, Any] = field(default_factory=dict)


class QuantizationBackend(Protocol):
    """What any quantization backend provides."""

    name: str

    def quantize(
        self, model: nn.Module, options: RecipeOptions, progress: ProgressFn | None, cancelled: CancelFn | None
    ) -> nn.Module: ...

    def export(self, qmodel: nn.Module) -> Exported: ...

    def rebuild(self, config: Any, exported: Exported) -> nn.Module: ...


class DynamicInt8Recipe:
    """Conv1D→Linear, then ``torch.ao`` dynamic INT8 linears, plus INT8 embeddings."""

    name = "torch-dynamic-int8"

    def __init__(self, engine: str | None = None) -> None:
        self.engine = engine
        """The ``torch.backends.quantized`` engine that packs the weights (None: fbgemm where available)."""

    def quantize(
        self,
        model: nn.Module,
        options: RecipeOptions,
        progress: ProgressFn | None = None,
        cancelled: CancelFn | None = None,
    ) -> nn.Module:
        import torch.ao.nn.quantized.dynamic as nnqd
        from torch.ao.quantization import (
            default_dynamic_qconfig,
            per_channel_dynamic_qconfig,
        )

        use_quantized_engine(self.engine)
        qconfig = per_channel_dynamic_qconfig if options.per_channel else default_dynamic_qconfig
        qmodel = copy.deepcopy(model)
        convert_all_conv1d(qmodel)
        blocks = qmodel.transformer.h
        n_layer = len(blocks)
        bad = [i for i in options.exclude_layers if not 0 <= i < n_layer]
        if bad:
            from .errors import Gpt2qError

            raise Gpt2qError(f"Block {bad[0]} does not exist: the model has blocks 0 to {n_layer - 1}.")
        steps = [f"h.{i}.{name}" for i in range(n_layer) if i not in options.exclude_layers for name in BLOCK_LINEARS]
        tail = (["lm_head"] if not options.keep_lm_head else []) + (["wpe"] if options.quantize_embeddings else [])
        total = len(steps) + len(tail)

        def step(done: int, message: str) -> None:
            if cancelled is not None and cancelled():
                raise Cancelled("Quantization cancelled; nothing was saved.")
            if progress is not None:
                progress(done, total, message)

        with quiet_torch(), torch.inference_mode(False), torch.no_grad():
            for done, path in enumerate(steps):
                step(done, f"Quantizing block {path}")
                full = f"transformer.{path}"
                linear = qmodel.get_submodule(full)
                linear.qconfig = qconfig
                set_submodule(qmodel, full, nnqd.Linear.from_float(linear))
            done = len(steps)
            wte = qmodel.transformer.wte
            if not options.keep_lm_head:
                step(done, "Quantizing lm_head (the tied token embedding)")
                done += 1
                if options.quantize_embeddings:
                    int8, scales = per_row_int8(wte.weight.detach())
                    qmodel.lm_head = dynamic_linear(int8, scales, torch.zeros_like(scales, dtype=torch.long), None)
                    qmodel.transformer.wte = Int8Embedding(int8, scales)
                else:
                    head = nn.Linear(wte.weight.shape[1], wte.weight.shape[0], bias=False)
                    head.weight = nn.Parameter(wte.weight.detach().clone(), requires_grad=False)
                    head.qconfig = qconfig
                    qmodel.lm_head = nnqd.Linear.from_float(head)
            if options.quantize_embeddings:
                step(done, "Storing position embeddings as INT8")
                done += 1
                int8, scales = per_row_int8(qmodel.transformer.wpe.weight.detach())
                qmodel.transformer.wpe = Int8Embedding(int8, scales)
            step(done, "Done")
        return qmodel.eval()

    def export(self, qmodel: nn.Module) -> Exported:
        import torch.ao.nn.quantized.dynamic as nnqd

        out = Exported({}, {"quantized_linears": [], "int8_embeddings": [], "lm_head_shares_wte": False})
        handled: set[str] = set()
        wte = qmodel.transformer.wte
        for name, module in qmodel.named_modules():
            if isinstance(module, nnqd.Linear):
                qweight, bias = module._weight_bias()
                if name == "lm_head" and isinstance(wte, Int8Embedding):
                    out.layout["lm_head_shares_wte"] = True
                else:
                    out.tensors[f"{name}.weight_int8"] = qweight.int_repr()
                    if qweight.qscheme() in (torch.per_channel_affine, torch.per_channel_symmetric):
                        scales, zeros = qweight.q_per_channel_scales(), qweight.q_per_channel_zero_points()
                    else:
                        scales = torch.tensor([qweight.q_scale()])
                        zeros = torch.tensor([qweight.q_zero_point()])
                    out.tensors[f"{name}.weight_scales"] = scales.float()
                    out.tensors[f"{name}.weight_zero_points"] = zeros.int()
                    if bias is not None:
                        out.tensors[f"{name}.bias"] = bias.detach().contiguous()
                out.layout["quantized_linears"].append(name)
                handled.add(name)
            elif isinstance(module, Int8Embedding):
                out.tensors[f"{name}.weight_int8"] = module.weight_int8.contiguous()
                out.tensors[f"{name}.scales"] = module.scales.contiguous()
                out.layout["int8_embeddings"].append(name)
                handled.add(name)
        for key, tensor in [*qmodel.named_parameters(), *qmodel.named_buffers()]:
            owner = key.rsplit(".", 1)[0]
            if not any(owner == h or owner.startswith(h + ".") for h in handled):
                out.tensors[key] = tensor.detach().contiguous()
        head = qmodel.lm_head
        out.layout["lm_head_tied_fp32"] = isinstance(head, nn.Linear) and head.weight is getattr(wte, "weight", None)
        return out

    def rebuild(self, config: Any, exported: Exported) -> nn.Module:
        from .checkpoint import skeleton

        use_quantized_engine(self.engine)
        layout, tensors = exported.layout, dict(exported.tensors)
        model = skeleton(config)
        convert_all_conv1d(model)
        for name in layout.get("int8_embeddings", []):
            set_submodule(model, name, Int8Embedding(tensors.pop(f"{name}.weight_int8"), tensors.pop(f"{name}.scales")))
        with quiet_torch():
            for name in layout.get("quantized_linears", []):
                if name == "lm_head" and layout.get("lm_head_shares_wte"):
                    wte = model.transformer.wte
                    zeros = torch.zeros(wte.scales.shape, dtype=torch.long)
                    set_submodule(model, name, dynamic_linear(wte.weight_int8, wte.scales, zeros, None))
                    continue
                set_submodule(
                    model,
                    name,
                    dynamic_linear(
                        tensors.pop(f"{name}.weight_int8"),
                        tensors.pop(f"{name}.weight_scales"),
                        tensors.pop(f"{name}.weight_zero_points"),
                        tensors.pop(f"{name}.bias", None),
                    ),
                )
        for key, tensor in tensors.items():
            owner, _, leaf = key.rpartition(".")
            module = model.get_submodule(owner)
            if leaf in module._parameters:
                module._parameters[leaf] = nn.Parameter(tensor, requires_grad=False)
            elif leaf in module._buffers:
                module._buffers[leaf] = tensor
            else:
                raise ValueError(f"unexpected tensor {key}")
        if layout.get("lm_head_tied_fp32"):
            model.lm_head.weight = model.transformer.wte.weight
        left = [n for n, t in [*model.named_parameters(), *model.named_buffers()] if t.is_meta]
        if left:
            raise ValueError(f"tensors missing for {left[:3]}")
        return model.eval().requires_grad_(False)


def timed_quantize(
    backend: QuantizationBackend,
    model: nn.Module,
    options: RecipeOptions,
    progress: ProgressFn | None = None,
    cancelled: CancelFn | None = None,
) -> tuple[nn.Module, float]:
    """Run *backend* and return the quantized model with the seconds it took."""
    start = time.perf_counter()
    qmodel = backend.quantize(model, options, progress, cancelled)
    return qmodel, time.perf_counter() - start
