"""The INT8 quantization recipe, behind one small interface so that another recipe can be added.

:class:`DynamicInt8Recipe` converts every GPT-2 ``Conv1D`` into an exact ``nn.Linear`` (transposed
weight), then quantizes each block linear to a dynamic INT8 linear (on the INT8 kernels :mod:`kernels`
chooses), optionally ``lm_head`` too, and optionally stores the token/position embeddings as INT8 rows. GPT-2
ties ``wte`` and ``lm_head``: when both are INT8 they share one INT8 matrix with per-row scales, stored once.

A :class:`QuantizationRecipe` turns an FP32 model into a quantized one (:meth:`quantize`), flattens that
into plain tensors + a layout for the cache (:meth:`flatten`) and builds the model back from them without
running the recipe again (:meth:`rebuild`).
"""

from __future__ import annotations

import copy
import time
from dataclasses import dataclass, field
from typing import Any, Protocol

import torch
from torch import nn

from gpt2q_desktop.core.errors import Cancelled, Gpt2qError
from gpt2q_desktop.core.options import RecipeOptions
from gpt2q_desktop.core.progress import CancelFn, ProgressFn
from gpt2q_desktop.core.quiet import quiet_torch
from gpt2q_desktop.core.runtimes import Kernels
from gpt2q_desktop.core.torch_int8.kernels import fitted, use_int8_kernels
from gpt2q_desktop.core.torch_int8.modules import (
    Int8Embedding,
    RowScaledLinear,
    convert_all_conv1d,
    dynamic_linear,
    per_row_int8,
    set_submodule,
)

BLOCK_LINEARS = ("attn.c_attn", "attn.c_proj", "mlp.c_fc", "mlp.c_proj")


@dataclass
class Flattened:
    """A quantized model flattened for storage: plain tensors plus the layout to rebuild it."""

    tensors: dict[str, torch.Tensor]
    layout: dict[str, Any] = field(default_factory=dict)


class QuantizationRecipe(Protocol):
    """What any quantization recipe provides."""

    name: str
    kernels: Kernels | None
    """The INT8 kernels it builds with (None: :func:`~gpt2q_desktop.core.torch_int8.kernels.chosen_kernels`)."""

    def quantize(
        self, model: nn.Module, options: RecipeOptions, progress: ProgressFn | None, cancelled: CancelFn | None
    ) -> nn.Module: ...

    def flatten(self, qmodel: nn.Module) -> Flattened: ...

    def rebuild(self, config: Any, flattened: Flattened) -> nn.Module: ...


class DynamicInt8Recipe:
    """Conv1D→Linear, then ``torch.ao`` dynamic INT8 linears, plus INT8 embeddings."""

    name = "torch-dynamic-int8"

    def __init__(self, kernels: Kernels | None = None) -> None:
        self.kernels = kernels
        """The INT8 kernels that pack the weights (None: the platform's, or what ``GPT2Q_INT8_KERNELS`` says)."""

    def quantize(
        self,
        model: nn.Module,
        options: RecipeOptions,
        progress: ProgressFn | None = None,
        cancelled: CancelFn | None = None,
    ) -> nn.Module:
        from torch.ao.quantization import default_dynamic_qconfig, per_channel_dynamic_qconfig

        kernels = use_int8_kernels(self.kernels)
        qconfig = per_channel_dynamic_qconfig if options.per_channel else default_dynamic_qconfig
        qmodel = copy.deepcopy(model)
        convert_all_conv1d(qmodel)
        n_layer = len(qmodel.transformer.h)
        bad = [i for i in options.exclude_layers if not 0 <= i < n_layer]
        if bad:
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
                _quantize_linear(qmodel, f"transformer.{path}", qconfig)
            done = len(steps)
            if not options.keep_lm_head:
                step(done, "Quantizing lm_head (the tied token embedding)")
                done += 1
                _quantize_lm_head(qmodel, qconfig, share_with_wte=options.quantize_embeddings)
            if options.quantize_embeddings:
                step(done, "Storing position embeddings as INT8")
                done += 1
                int8, scales = per_row_int8(qmodel.transformer.wpe.weight.detach())
                qmodel.transformer.wpe = Int8Embedding(int8, scales)
            step(done, "Done")
        return fitted(qmodel.eval(), kernels)

    def flatten(self, qmodel: nn.Module) -> Flattened:
        import torch.ao.nn.quantized.dynamic as nnqd

        out = Flattened({}, {"quantized_linears": [], "int8_embeddings": [], "lm_head_shares_wte": False})
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

    def rebuild(self, config: Any, flattened: Flattened) -> nn.Module:
        """The quantized model of *flattened* on a skeleton of *config*; ``ValueError`` (or whatever torch raises)
        when a tensor is missing, unexpected or of another shape or dtype than the model's, or the layout does not
        fit the model: a model is returned whole or not at all."""
        from gpt2q_desktop.core.checkpoints.weights import skeleton
        from gpt2q_desktop.core.torch_int8.stored import assign_plain, stored_embedding, stored_linear

        kernels = use_int8_kernels(self.kernels)
        layout, tensors = flattened.layout, dict(flattened.tensors)
        model = skeleton(config)
        convert_all_conv1d(model)
        for name in layout.get("int8_embeddings", []):
            set_submodule(model, name, stored_embedding(model, name, tensors))
        with quiet_torch():
            for name in layout.get("quantized_linears", []):
                set_submodule(model, name, stored_linear(model, name, tensors, bool(layout.get("lm_head_shares_wte"))))
        assign_plain(model, tensors)
        if layout.get("lm_head_tied_fp32"):
            if not isinstance(model.lm_head, nn.Linear) or isinstance(model.transformer.wte, Int8Embedding):
                raise ValueError("lm_head is tied to an FP32 token embedding the entry does not hold")
            model.lm_head.weight = model.transformer.wte.weight
        left = [n for n, t in [*model.named_parameters(), *model.named_buffers()] if t.is_meta]
        if left:
            raise ValueError(f"tensors missing for {left[:3]}")
        return fitted(model.eval().requires_grad_(False), kernels)


def _quantize_linear(qmodel: nn.Module, path: str, qconfig: Any) -> None:
    """Replace the FP32 linear at *path* by its dynamic INT8 twin."""
    linear = qmodel.get_submodule(path)
    linear.qconfig = qconfig
    set_submodule(qmodel, path, RowScaledLinear.from_float(linear))


def _quantize_lm_head(qmodel: nn.Module, qconfig: Any, share_with_wte: bool) -> None:
    """INT8 ``lm_head``; with *share_with_wte*, one INT8 matrix (per-row scales) serves it and ``wte``."""
    wte = qmodel.transformer.wte
    if share_with_wte:
        int8, scales = per_row_int8(wte.weight.detach())
        qmodel.lm_head = dynamic_linear(int8, scales, torch.zeros_like(scales, dtype=torch.long), None)
        qmodel.transformer.wte = Int8Embedding(int8, scales)
        return
    head = nn.Linear(wte.weight.shape[1], wte.weight.shape[0], bias=False)
    head.weight = nn.Parameter(wte.weight.detach().clone(), requires_grad=False)
    qmodel.lm_head = head
    _quantize_linear(qmodel, "lm_head", qconfig)


def timed_quantize(
    recipe: QuantizationRecipe,
    model: nn.Module,
    options: RecipeOptions,
    progress: ProgressFn | None = None,
    cancelled: CancelFn | None = None,
) -> tuple[nn.Module, float]:
    """Run *recipe* and return the quantized model with the seconds it took."""
    start = time.perf_counter()
    qmodel = recipe.quantize(model, options, progress, cancelled)
    return qmodel, time.perf_counter() - start
