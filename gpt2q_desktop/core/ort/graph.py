"""The FP32 checkpoint as an ONNX graph for ONNX Runtime, and the graph edits the INT8 recipe relies on.

The graph is one generation step with its KV cache (:mod:`ort.step`): the logits at the given positions of the
new tokens, and each block's present keys and values. It is exported with
``torch.onnx.export(dynamo=True)`` (the TorchScript exporter fails on transformers 5's mask code) from a copy
whose ``Conv1D`` layers are exact ``nn.Linear`` (so every block matrix is a plain ``MatMul``) and whose
``lm_head`` is untied. The token embedding then gathers its rows from the ``lm_head`` matrix itself
(:func:`embed_from_lm_head`), so the GPT-2 tie stays a single matrix in the file, in FP32 and in INT8.
"""

from __future__ import annotations

import copy
import re
from pathlib import Path
from typing import Any

import torch
from torch import nn

from gpt2q_desktop.core.errors import Gpt2qError
from gpt2q_desktop.core.ort.step import (
    IDS,
    LOGITS,
    POSITIONS,
    GenerationStep,
    dynamic_past,
    eager,
    example_past,
    past_names,
    present_names,
    sequence_dim,
)
from gpt2q_desktop.core.quiet import quiet_loggers, quiet_torch
from gpt2q_desktop.core.torch_int8.modules import convert_all_conv1d

OUTPUT = LOGITS
MAX_PROTOBUF_BYTES = 2**31 - 2**24
"""A single-file ONNX model must stay under protobuf's 2 GiB (a margin is kept for the graph itself)."""
_BLOCK = re.compile(r"transformer\.h\.(\d+)\b")


def traceable_copy(fp32: nn.Module) -> tuple[nn.Module, bool]:
    """A copy with exact Linear layers and an untied lm_head; and whether lm_head was tied to wte."""
    model = eager(copy.deepcopy(fp32).float().eval())
    convert_all_conv1d(model)
    wte, head = model.transformer.wte.weight, model.lm_head.weight
    tied = wte.shape == head.shape and (wte.data_ptr() == head.data_ptr() or bool(torch.equal(wte, head)))
    model.lm_head.weight = nn.Parameter(head.detach().clone(), requires_grad=False)
    return model, tied


def trace_fp32_graph(fp32: nn.Module, out: Path) -> dict[str, Any]:
    """Write the FP32 graph of *fp32* to *out* (one file); returns what the cache records about it."""
    model, tied = traceable_copy(fp32)
    weight_bytes = sum(p.numel() * 4 for p in model.parameters()) - (model.lm_head.weight.numel() * 4 if tied else 0)
    if weight_bytes > MAX_PROTOBUF_BYTES:
        raise Gpt2qError(
            f"This checkpoint has {weight_bytes / 1e9:.1f} GB of FP32 weights; the ONNX Runtime path holds at most "
            f"{MAX_PROTOBUF_BYTES / 1e9:.1f} GB (one ONNX file). Use the PyTorch runtime for it."
        )
    config = model.config
    example = (torch.zeros(1, 8, dtype=torch.long), torch.tensor([7]), *example_past(config))
    dynamic = {
        IDS: {1: sequence_dim(config)},
        POSITIONS: {0: sequence_dim(config, "keep")},
        "past": dynamic_past(config),
    }
    inputs = (IDS, POSITIONS, *past_names(config.n_layer))
    trace_graph(GenerationStep(model), example, inputs, (LOGITS, *present_names(config.n_layer)), dynamic, tied, out)
    return {"tied_embeddings": tied}


def trace_graph(
    module: nn.Module, example: tuple[torch.Tensor, ...], inputs: tuple[str, ...], outputs: tuple[str, ...],
    dynamic_shapes: dict[str, Any], tied: bool, out: Path,
) -> None:  # fmt: skip
    """Export *module* (dynamo, warnings and chatter kept quiet) on *example* to the file *out*; when *tied*, the
    token embedding gathers from the lm_head matrix (:func:`embed_from_lm_head`), stored once."""
    with quiet_torch(), quiet_loggers(), torch.no_grad():
        program = torch.onnx.export(
            module.eval(), example, dynamo=True, input_names=list(inputs), output_names=list(outputs),
            dynamic_shapes=dynamic_shapes, verbose=False,
        )  # fmt: skip
        graph = program.model_proto
    if tied:
        embed_from_lm_head(graph)
    save_graph(graph, out)


def save_graph(graph: Any, out: Path) -> None:
    import onnx

    if graph.ByteSize() > MAX_PROTOBUF_BYTES:
        raise Gpt2qError("The ONNX graph is larger than one ONNX file can hold (2 GB).")
    onnx.save_model(graph, str(out))


def _initializers(graph: Any) -> dict[str, Any]:
    return {t.name: t for t in graph.graph.initializer}


def _lm_head_matmul(graph: Any) -> Any:
    """The graph's last MatMul (the vocabulary projection, producing the output)."""
    for node in graph.graph.node:
        if node.op_type in ("MatMul", "MatMulInteger") and OUTPUT in _consumers_of_output(graph, node):
            return node
    raise Gpt2qError("The exported graph has no lm_head MatMul.")


def _consumers_of_output(graph: Any, node: Any) -> set[str]:
    """The graph outputs *node* feeds, directly or through a cast of its result (INT8 graphs)."""
    names, frontier = set(node.output), list(node.output)
    while frontier:
        name = frontier.pop()
        for n in graph.graph.node:
            if name in n.input and n.op_type in ("Cast", "Mul", "Add"):
                for o in n.output:
                    if o not in names:
                        names.add(o)
                        frontier.append(o)
    return names & {o.name for o in graph.graph.output}


def _token_gather(graph: Any) -> Any:
    """The Gather of token rows from ``wte`` (the first Gather on a [vocab, width] initializer)."""
    inits = _initializers(graph)
    for node in graph.graph.node:
        if node.op_type == "Gather" and node.input[0] in inits and "wte" in node.input[0]:
            return node
    raise Gpt2qError("The exported graph has no token embedding Gather.")


def embed_from_lm_head(graph: Any) -> None:
    """Make the token embedding gather columns of the FP32 ``lm_head`` matrix [width, vocab] (the same numbers
    as wte's rows when the two are tied) and drop ``wte``: the matrix is stored once."""
    from onnx import helper

    gather = _token_gather(graph)
    head = _lm_head_matmul(graph).input[1]
    wte = gather.input[0]
    columns = f"{gather.output[0]}_columns"
    new = [
        helper.make_node("Gather", [head, gather.input[1]], [columns], axis=1, name=f"{gather.name}_from_lm_head"),
        helper.make_node("Transpose", [columns], [gather.output[0]], perm=[1, 2, 0], name=f"{gather.name}_rows"),
    ]
    _replace_node(graph, gather, new)
    _drop_initializer(graph, wte)


def embed_from_int8_lm_head(graph: Any) -> bool:
    """In a quantized graph, make the token embedding gather (and dequantize) columns of the INT8 ``lm_head``
    matrix instead of the FP32 one, and drop the FP32 matrix if nothing else reads it. Returns whether it did."""
    from onnx import TensorProto, helper

    inits = _initializers(graph)
    head = _lm_head_matmul(graph)
    if head.op_type != "MatMulInteger":
        return False
    weight, zero = head.input[1], head.input[3]
    scale = weight.removesuffix("_quantized") + "_scale"
    gather = next((n for n in graph.graph.node if n.op_type == "Gather" and n.name.endswith("_from_lm_head")), None)
    if gather is None or scale not in inits or weight not in inits:
        return False
    transpose = next(n for n in graph.graph.node if n.op_type == "Transpose" and gather.output[0] in n.input)
    fp32_matrix, ids, out = gather.input[0], gather.input[1], transpose.output[0]
    per_column = len(inits[scale].dims) == 1
    p = f"{gather.name}_int8"
    nodes = [
        helper.make_node("Gather", [weight, ids], [f"{p}_q"], axis=1, name=f"{p}_gather"),
        helper.make_node("Cast", [f"{p}_q"], [f"{p}_i"], to=TensorProto.FLOAT, name=f"{p}_cast"),
        helper.make_node("Cast", [zero], [f"{p}_z"], to=TensorProto.FLOAT, name=f"{p}_cast_zero"),
    ]
    if per_column:  # scale and zero point per vocabulary entry: pick those of the gathered ids
        nodes += [
            helper.make_node("Gather", [f"{p}_z", ids], [f"{p}_zg"], axis=0, name=f"{p}_gather_zero"),
            helper.make_node("Gather", [scale, ids], [f"{p}_sg"], axis=0, name=f"{p}_gather_scale"),
            helper.make_node("Sub", [f"{p}_i", f"{p}_zg"], [f"{p}_c"], name=f"{p}_sub"),
            helper.make_node("Mul", [f"{p}_c", f"{p}_sg"], [f"{p}_cols"], name=f"{p}_mul"),
        ]
    else:
        nodes += [
            helper.make_node("Sub", [f"{p}_i", f"{p}_z"], [f"{p}_c"], name=f"{p}_sub"),
            helper.make_node("Mul", [f"{p}_c", scale], [f"{p}_cols"], name=f"{p}_mul"),
        ]
    nodes.append(helper.make_node("Transpose", [f"{p}_cols"], [out], perm=[1, 2, 0], name=f"{p}_rows"))
    _replace_node(graph, gather, [])
    _replace_node(graph, transpose, nodes)
    if not any(fp32_matrix in n.input for n in graph.graph.node):
        _drop_initializer(graph, fp32_matrix)
    return True


def _replace_node(graph: Any, old: Any, new: list[Any]) -> None:
    nodes = graph.graph.node
    index = list(nodes).index(old)
    del nodes[index]
    for offset, node in enumerate(new):
        nodes.insert(index + offset, node)


def _drop_initializer(graph: Any, name: str) -> None:
    for i, t in enumerate(graph.graph.initializer):
        if t.name == name:
            del graph.graph.initializer[i]
            return


def block_of(node: Any) -> int | None:
    """The transformer block a node was exported from (from the exporter's name-scope metadata), or None."""
    for prop in node.metadata_props:
        if prop.key == "pkg.torch.onnx.name_scopes":
            match = _BLOCK.search(prop.value)
            return int(match.group(1)) if match else None
    return None


def weight_matmuls(graph: Any) -> list[Any]:
    """The MatMul nodes that multiply by a weight matrix (an initializer): the block linears and lm_head."""
    inits = _initializers(graph)
    return [n for n in graph.graph.node if n.op_type == "MatMul" and len(n.input) == 2 and n.input[1] in inits]
