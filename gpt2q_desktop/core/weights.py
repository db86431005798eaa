"""Reading a checkpoint's state_dict safely and building a checked FP32 GPT-2 from it."""

from __future__ import annotations

import re
from pathlib import Path
from typing import TYPE_CHECKING, Any

from .errors import ArchitectureError, UnsafeCheckpointError

if TYPE_CHECKING:
    from transformers import GPT2LMHeadModel

SAFETENSORS = "safetensors"
PYTORCH_BIN = "pytorch .bin"

_LEGACY_BUFFER = re.compile(r"^transformer\.h\.\d+\.attn\.(bias|masked_bias)$")


def read_state_dict(weight_files: tuple[Path, ...], weight_format: str) -> dict[str, Any]:
    import torch

    from .quiet import quiet_torch

    state: dict[str, Any] = {}
    for path in weight_files:
        try:
            if weight_format == SAFETENSORS:
                from safetensors.torch import load_file

                part = load_file(str(path))
            else:
                with quiet_torch():
                    part = torch.load(path, map_location="cpu", weights_only=True)
        except Exception as exc:
            kind = type(exc).__name__
            if "Unpickl" in kind or "weights_only" in str(exc):
                raise UnsafeCheckpointError(
                    f"{path.name} contains code or objects that are not plain weights; "
                    "it was refused and nothing in it was run."
                ) from exc
            raise UnsafeCheckpointError(f"{path.name} is corrupt or truncated ({kind}).") from exc
        if not isinstance(part, dict):
            raise UnsafeCheckpointError(f"{path.name} does not hold a state_dict.")
        state.update(part)
    return state


def normalise_keys(state: dict[str, Any]) -> dict[str, Any]:
    """Add the ``transformer.`` prefix of bare GPT2Model checkpoints and drop legacy mask buffers."""
    bare = "transformer.wte.weight" not in state and "wte.weight" in state
    out = {}
    for key, value in state.items():
        full = f"transformer.{key}" if bare and not key.startswith("lm_head.") else key
        if not _LEGACY_BUFFER.match(full):
            out[full] = value
    return out


def _check_keys(expected: dict[str, Any], state: dict[str, Any], tied: bool) -> None:
    allowed_missing = {"lm_head.weight"} if tied else set()
    missing = sorted(set(expected) - set(state) - allowed_missing)
    unexpected = sorted(set(state) - set(expected))
    mismatched = [
        f"{k}: file {tuple(state[k].shape)} vs config {tuple(expected[k].shape)}"
        for k in sorted(set(expected) & set(state))
        if tuple(state[k].shape) != tuple(expected[k].shape)
    ]
    problems = []
    if missing:
        problems.append(f"{len(missing)} missing (e.g. {', '.join(missing[:3])})")
    if unexpected:
        problems.append(f"{len(unexpected)} unexpected (e.g. {', '.join(unexpected[:3])})")
    if mismatched:
        problems.append(f"{len(mismatched)} with the wrong shape (e.g. {'; '.join(mismatched[:2])})")
    if problems:
        raise ArchitectureError("The weights do not fit config.json: " + "; ".join(problems) + ".")


def skeleton(config: Any) -> GPT2LMHeadModel:
    """A GPT-2 on the meta device: no memory, no random initialisation."""
    import torch
    from transformers import GPT2LMHeadModel

    with torch.device("meta"):
        return GPT2LMHeadModel(config)


def model_from_state(config: Any, state: dict[str, Any]) -> GPT2LMHeadModel:
    """An FP32 GPT-2 built on a meta skeleton from a checked state_dict."""
    import torch

    model = skeleton(config)
    expected = model.state_dict()
    tied = bool(getattr(config, "tie_word_embeddings", True))
    if tied and "lm_head.weight" in state:  # a tied pair may be stored under either name
        head = state.pop("lm_head.weight")
        state.setdefault("transformer.wte.weight", head)
    _check_keys(expected, state, tied)
    state = {k: (v.float() if v.is_floating_point() else v) for k, v in state.items()}
    model.load_state_dict(state, strict=False, assign=True)
    if tied:
        model.tie_weights()
    leftover = [n for n, t in model.state_dict().items() if t.device == torch.device("meta")]
    if leftover:
        raise ArchitectureError(f"The weights leave {', '.join(leftover[:3])} unset.")
    return model.eval().requires_grad_(False)
