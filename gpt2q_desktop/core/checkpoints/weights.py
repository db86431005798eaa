"""Reading a checkpoint's state_dict safely and building a checked FP32 GPT-2 from it."""

from __future__ import annotations

import json
import math
import os
import re
from pathlib import Path
from typing import TYPE_CHECKING, Any

from gpt2q_desktop.core.checkpoints.config import check_fit
from gpt2q_desktop.core.errors import ArchitectureError, CheckpointError, UnsafeCheckpointError
from gpt2q_desktop.core.files import file_problem, open_regular

if TYPE_CHECKING:
    from transformers import GPT2LMHeadModel

SAFETENSORS = "safetensors"
PYTORCH_BIN = "pytorch .bin"

FLOAT_DTYPES = ("F32", "F16", "BF16")
_ITEMSIZE = {"BOOL": 1, "U8": 1, "I8": 1, "F8_E4M3": 1, "F8_E5M2": 1, "I16": 2, "U16": 2, "F16": 2, "BF16": 2,
             "I32": 4, "U32": 4, "F32": 4, "I64": 8, "U64": 8, "F64": 8}  # fmt: skip
_MAX_HEADER = 100_000_000  # the safetensors library's own limit
_LEGACY_BUFFER = re.compile(r"^(transformer\.)?h\.\d+\.attn\.(bias|masked_bias)$")


def safetensors_layout(paths: tuple[Path, ...]) -> tuple[dict[str, tuple[int, ...]], set[str]]:
    """The tensor shapes ``.safetensors`` files declare (keys normalised) and the float types their weights are
    stored in, read from their headers alone.

    Refuses a corrupt header, data that does not fit in the file, and weights that are not F32, F16 or BF16.
    """
    shapes: dict[str, tuple[int, ...]] = {}
    dtypes: set[str] = set()
    owners: dict[str, Path] = {}
    for path in paths:
        file_shapes, file_dtypes = _file_layout(path)
        _refuse_shared_tensors(owners, path, file_shapes)
        shapes.update(file_shapes)
        dtypes |= file_dtypes
    return normalise_keys(shapes), dtypes


def _refuse_shared_tensors(owners: dict[str, Path], path: Path, keys: Any) -> None:
    """Refuse a tensor of the weight file *path* that an earlier file (*owners*: key → file) also holds: which
    copy the model should get is then a guess (the index names one, the other would win when merged). Records
    *path* as the owner of *keys*."""
    for key in keys:
        if key in owners:
            raise CheckpointError(
                f"The tensor {key} is in two weight files, {owners[key].name} and {path.name}: "
                "the shards disagree on which copy to use; refused."
            )
    owners.update(dict.fromkeys(keys, path))


_DTYPE_WORDS = {"F32": "FP32", "F16": "FP16", "BF16": "BF16"}


def float_type(dtypes: set[str]) -> str:
    """``FP16``, ``FP32``, ``BF16`` or ``mixed FP16/FP32`` for the safetensors float *dtypes* found."""
    words = sorted(_DTYPE_WORDS[d] for d in dtypes & set(_DTYPE_WORDS))
    return words[0] if len(words) == 1 else "mixed " + "/".join(words) if words else "unknown"


def estimated_float_type(file_bytes: int, n_params: int) -> str:
    """The float type of a ``.bin`` (no header to read), from its bytes per parameter, marked ``≈``."""
    per_param = file_bytes / max(n_params, 1)
    return "≈FP32" if per_param > 3.5 else "≈FP16" if 1.8 < per_param < 2.5 else "mixed"


def _file_layout(path: Path) -> tuple[dict[str, tuple[int, ...]], set[str]]:
    """The shapes one safetensors file declares and its weights' float types, dtypes and data offsets checked."""
    header, data_len = _safetensors_header(path)
    shapes, dtypes = {}, set()
    for key, entry in header.items():
        if key == "__metadata__":
            continue
        dtype, shape = _tensor_entry(path, key, entry, data_len)
        if dtype in FLOAT_DTYPES:
            dtypes.add(dtype)
        elif not _LEGACY_BUFFER.match(key):
            raise ArchitectureError(
                f"{path.name}: tensor {key} is stored as {dtype}, not as floats (F32, F16 or BF16); "
                "gpt2q quantizes float GPT-2 weights only."
            )
        shapes[key] = shape
    return shapes, dtypes


def _safetensors_header(path: Path) -> tuple[dict[str, Any], int]:
    """A safetensors file's JSON header and the size of the data after it."""
    corrupt = f"{path.name} is corrupt or truncated"
    try:
        with open_regular(path) as fh:
            size = os.fstat(fh.fileno()).st_size
            head = fh.read(8)
            length = int.from_bytes(head, "little") if len(head) == 8 else -1
            if not 0 <= length <= min(_MAX_HEADER, size - 8):
                raise UnsafeCheckpointError(f"{corrupt} (its header length is impossible in {size:,} bytes).")
            header = json.loads(fh.read(length))
    except OSError as exc:
        raise CheckpointError(f"{path} cannot be read: {exc.strerror or exc}") from exc
    except (ValueError, RecursionError) as exc:  # bad UTF-8 or JSON
        raise UnsafeCheckpointError(f"{corrupt} (its header is not valid JSON).") from exc
    if not isinstance(header, dict):
        raise UnsafeCheckpointError(f"{corrupt} (its header is not a JSON object).")
    return header, size - 8 - length


def _tensor_entry(path: Path, key: str, entry: Any, data_len: int) -> tuple[str, tuple[int, ...]]:
    """(dtype, shape) of one header entry, checked against the data it points to."""
    def whole(x: Any) -> bool:
        return isinstance(x, int) and not isinstance(x, bool) and x >= 0

    entry = entry if isinstance(entry, dict) else {}
    dtype, shape, offsets = entry.get("dtype"), entry.get("shape"), entry.get("data_offsets")
    if not (
        isinstance(dtype, str) and dtype in _ITEMSIZE
        and isinstance(shape, list) and all(whole(d) for d in shape)
        and isinstance(offsets, list) and len(offsets) == 2 and all(whole(o) for o in offsets)
        and offsets[0] <= offsets[1] <= data_len
        and offsets[1] - offsets[0] == math.prod(shape) * _ITEMSIZE[dtype]
    ):  # fmt: skip
        raise UnsafeCheckpointError(f"{path.name} is corrupt or truncated (its entry for {key} does not fit).")
    return dtype, tuple(shape)


def read_state_dict(weight_files: tuple[Path, ...], weight_format: str) -> dict[str, Any]:
    """The merged state_dict of *weight_files* (regular files only), every float tensor finite."""
    import torch

    from gpt2q_desktop.core.quiet import quiet_torch

    state: dict[str, Any] = {}
    owners: dict[str, Path] = {}
    for path in weight_files:
        problem = file_problem(path)
        if problem:
            raise CheckpointError(f"{path} {problem}.")
        try:
            if weight_format == SAFETENSORS:
                from safetensors.torch import load_file

                part = load_file(str(path))
            else:
                with open_regular(path) as fh, quiet_torch():
                    part = torch.load(fh, map_location="cpu", weights_only=True)
        except Exception as exc:
            kind = type(exc).__name__
            if "Unpickl" in kind or "weights_only" in str(exc):
                raise UnsafeCheckpointError(
                    f"{path.name} contains code or objects that are not plain weights; "
                    "it was refused and nothing in it was run."
                ) from exc
            raise UnsafeCheckpointError(f"{path.name} is corrupt or truncated ({kind}).") from exc
        if not isinstance(part, dict) or not all(isinstance(key, str) for key in part):
            raise UnsafeCheckpointError(f"{path.name} does not hold a state_dict.")
        _refuse_shared_tensors(owners, path, part)
        _refuse_non_finite(path, part)
        state.update(part)
    return state


def _refuse_non_finite(path: Path, part: dict[str, Any]) -> None:
    """Refuse a float tensor holding NaN or infinity: nothing non-finite is ever quantized or cached."""
    import torch

    for key, value in part.items():
        if (
            isinstance(value, torch.Tensor) and value.is_floating_point() and not _LEGACY_BUFFER.match(key)
            and not bool(torch.isfinite(value).all())
        ):  # fmt: skip
            raise CheckpointError(
                f"{path.name}: tensor {key} holds NaN or infinite values (a diverged or corrupt checkpoint); "
                "refused before anything was built or quantized."
            )


def normalise_keys(state: dict[str, Any]) -> dict[str, Any]:
    """Add the ``transformer.`` prefix of bare GPT2Model checkpoints and drop legacy mask buffers."""
    bare = "transformer.wte.weight" not in state and "wte.weight" in state
    out = {}
    for key, value in state.items():
        full = f"transformer.{key}" if bare and not key.startswith("lm_head.") else key
        if not _LEGACY_BUFFER.match(full):
            out[full] = value
    return out


def tensor_shapes(state: dict[str, Any]) -> dict[str, tuple[int, ...]]:
    return {k: tuple(v.shape) for k, v in state.items()}


def skeleton(config: Any) -> GPT2LMHeadModel:
    """A GPT-2 on the meta device: no memory, no random initialisation."""
    import torch
    from transformers import GPT2LMHeadModel

    with torch.device("meta"):
        return GPT2LMHeadModel(config)


def model_from_state(config: Any, state: dict[str, Any]) -> GPT2LMHeadModel:
    """An FP32 GPT-2 built on a meta skeleton from a checked state_dict."""
    import torch

    try:
        model = skeleton(config)
    except Exception as exc:  # e.g. an activation_function that transformers does not know
        raise ArchitectureError(f"config.json does not describe a GPT-2 that can be built: {exc}") from exc
    expected = model.state_dict()
    tied = bool(getattr(config, "tie_word_embeddings", True))
    if tied and "lm_head.weight" in state:  # a tied pair may be stored under either name
        head = state.pop("lm_head.weight")
        state.setdefault("transformer.wte.weight", head)
    check_fit(tensor_shapes(expected), tensor_shapes(state), tied)
    state = {k: (v.float() if v.is_floating_point() else v) for k, v in state.items()}
    model.load_state_dict(state, strict=False, assign=True)
    if tied:
        model.tie_weights()
    leftover = [n for n, t in model.state_dict().items() if t.device == torch.device("meta")]
    if leftover:
        raise ArchitectureError(f"The weights leave {', '.join(leftover[:3])} unset.")
    return model.eval().requires_grad_(False)
