"""The plain recipe ``gpt2q bench`` times beside the tool's: a GPT-2 exported as it is and quantized as ONNX
Runtime's documentation does it.

The export is ``GPT2LMHeadModel`` unchanged but for an untied ``lm_head`` (transformers' ``Conv1D`` blocks, logits
at every position of the new tokens, past and present per block: :class:`ort.step.PlainStep`); the INT8 graph is
``onnxruntime.quantization.quantize_dynamic`` on it with its defaults and QInt8 weights. Tied, ``quantize_dynamic``
would leave the vocabulary projection FP32; untied, the 50,257-row matrix is stored twice.
"""

from __future__ import annotations

import copy
import os
from pathlib import Path

import numpy as np
import torch
from torch import nn

from gpt2q_desktop.core.ort.graph import trace_graph
from gpt2q_desktop.core.ort.model import OrtCausalLM
from gpt2q_desktop.core.ort.step import (
    IDS,
    LOGITS,
    PlainStep,
    dynamic_past,
    eager,
    example_past,
    past_names,
    present_names,
    sequence_dim,
)


def build_plain_int8(fp32: nn.Module, folder: Path) -> Path:
    """Write the plain recipe's INT8 graph of *fp32* into *folder*; its path."""
    from onnxruntime.quantization import QuantType, quantize_dynamic

    from gpt2q_desktop.core.quiet import quiet_loggers, quiet_torch

    model = eager(copy.deepcopy(fp32).float().eval())
    model.lm_head.weight = nn.Parameter(model.lm_head.weight.detach().clone(), requires_grad=False)
    config = model.config
    fp32_path, int8_path = folder / "plain-fp32.onnx", folder / "plain-int8.onnx"
    example = (torch.zeros(1, 8, dtype=torch.long), *example_past(config))
    dynamic = {IDS: {1: sequence_dim(config)}, "past": dynamic_past(config)}
    inputs, outputs = (IDS, *past_names(config.n_layer)), (LOGITS, *present_names(config.n_layer))
    trace_graph(PlainStep(model), example, inputs, outputs, dynamic, False, fp32_path)
    with quiet_torch(), quiet_loggers():
        quantize_dynamic(fp32_path, int8_path, weight_type=QuantType.QInt8)
    os.unlink(fp32_path)
    return int8_path


class PlainInt8(OrtCausalLM):
    """The plain recipe's INT8 graph: a step reads new tokens after a past and returns every position's logits."""

    def run(
        self, ids: np.ndarray, positions: np.ndarray, past: list[np.ndarray]
    ) -> tuple[np.ndarray, list[np.ndarray]]:
        """As :meth:`OrtCausalLM.run` (the logits at *positions* taken from all of them)."""
        feed = {IDS: ids, **dict(zip(past_names(self.config.n_layer), past, strict=True))}
        logits, *presents = self.inference_session(torch.get_num_threads()).run(None, feed)
        return logits[:, positions], presents
