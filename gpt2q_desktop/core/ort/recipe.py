"""ONNX Runtime's dynamic INT8 recipe on the exported graph: weights QInt8 (per tensor, or per output channel as
the torch recipe offers), activations quantized on the fly; the same :class:`RecipeOptions` as the torch recipe.

Blocks kept FP32 and a kept ``lm_head`` are excluded by node; the token embedding then gathers its rows from the
INT8 ``lm_head`` matrix (:func:`onnx_graph.embed_from_int8_lm_head`), so the tied matrix is stored once, in INT8.
Position embeddings stay FP32 (3 MB). What was quantized is counted from the graph written, not assumed.
"""

from __future__ import annotations

import os
from dataclasses import dataclass
from pathlib import Path

from gpt2q_desktop.core.errors import Gpt2qError
from gpt2q_desktop.core.options import RecipeOptions
from gpt2q_desktop.core.ort.graph import block_of, embed_from_int8_lm_head, save_graph, weight_matmuls

NAME = "onnxruntime-dynamic-int8"


@dataclass(frozen=True)
class GraphCounts:
    """What an INT8 graph really holds."""

    layers_quantized: int
    layers_eligible: int
    embeddings_int8: int


def count_graph(graph: object, eligible: int) -> GraphCounts:
    """INT8 weight MatMuls and INT8 embeddings in *graph*, out of *eligible* weight MatMuls."""
    inits = {t.name for t in graph.graph.initializer}  # type: ignore[attr-defined]
    nodes = graph.graph.node  # type: ignore[attr-defined]
    quantized = sum(1 for n in nodes if n.op_type == "MatMulInteger" and n.input[1] in inits)
    embeddings = sum(1 for n in nodes if n.op_type == "Gather" and n.name.endswith("_int8_gather"))
    return GraphCounts(quantized, eligible, embeddings)


def quantize_graph(fp32_path: Path, int8_path: Path, options: RecipeOptions) -> GraphCounts:
    """Write the INT8 graph of *options* for the FP32 graph at *fp32_path* to *int8_path*."""
    import onnx
    from onnxruntime.quantization import QuantType, quantize_dynamic

    from gpt2q_desktop.core.quiet import quiet_loggers, quiet_torch

    graph = onnx.load(str(fp32_path))
    matmuls = weight_matmuls(graph)
    blocks = {b for b in (block_of(n) for n in matmuls) if b is not None}
    n_layer = max(blocks) + 1 if blocks else 0
    bad = [i for i in options.exclude_layers if not 0 <= i < n_layer]
    if bad:
        raise Gpt2qError(f"Block {bad[0]} does not exist: the model has blocks 0 to {n_layer - 1}.")
    exclude = [n.name for n in matmuls if block_of(n) in options.exclude_layers]
    if options.keep_lm_head:
        exclude += [n.name for n in matmuls if block_of(n) is None]
    raw = int8_path.with_name(int8_path.name + ".raw")
    try:
        with quiet_torch(), quiet_loggers():
            quantize_dynamic(
                graph, raw, weight_type=QuantType.QInt8, per_channel=options.per_channel,
                op_types_to_quantize=["MatMul"], nodes_to_exclude=exclude, extra_options={"MatMulConstBOnly": True},
            )  # fmt: skip
        quantized = onnx.load(str(raw))
    finally:
        if raw.exists():
            os.unlink(raw)
    if options.quantize_embeddings and not options.keep_lm_head:
        embed_from_int8_lm_head(quantized)
    save_graph(quantized, int8_path)
    return count_graph(quantized, len(matmuls))
