"""Reading and checking a GPT-2 ``config.json`` and the weight shapes it implies, in plain Python (no torch).

Absurd or inconsistent configs are refused before anything is built, in well under a second, with one line
naming the field; :func:`check_weights_fit` compares declared or loaded weight shapes with the config.
Bounds are generous for real GPT-2s (gpt2-xl: 48 layers, 1,600 wide, 25 heads, 1,024 positions).
"""

from __future__ import annotations

import math
import os
from pathlib import Path
from typing import Any

from gpt2q_desktop.core.errors import ArchitectureError, CheckpointError
from gpt2q_desktop.core.files import file_problem, read_json

Shapes = dict[str, tuple[int, ...]]

GPT2_DEFAULTS = {"n_layer": 12, "n_head": 12, "n_embd": 768, "n_positions": 1024, "vocab_size": 50257}
_MAXIMA = {
    "n_layer": 1_000,
    "n_head": 1_024,
    "n_embd": 65_536,
    "n_positions": 1_048_576,
    "vocab_size": 1_048_576,
    "n_inner": 262_144,
}
_ALIASES = {"num_hidden_layers": "n_layer", "num_attention_heads": "n_head", "hidden_size": "n_embd",
            "max_position_embeddings": "n_positions"}  # fmt: skip
_DROPOUTS = ("attn_pdrop", "embd_pdrop", "resid_pdrop")
_FLAGS = ("tie_word_embeddings", "add_cross_attention")
MAX_JSON_CHARS = 50_000_000
"""No config or index JSON is larger (a weight index of a huge model is a few MB)."""
MAX_PARAMS = 20_000_000_000  # 80 GB in FP32: far beyond any student, well short of absurd

_BLOCK = {  # per-block tensors: shape in units of (E = n_embd, I = inner width)
    "ln_1.weight": ("E",), "ln_1.bias": ("E",),
    "attn.c_attn.weight": ("E", "3E"), "attn.c_attn.bias": ("3E",),
    "attn.c_proj.weight": ("E", "E"), "attn.c_proj.bias": ("E",),
    "ln_2.weight": ("E",), "ln_2.bias": ("E",),
    "mlp.c_fc.weight": ("E", "I"), "mlp.c_fc.bias": ("I",),
    "mlp.c_proj.weight": ("I", "E"), "mlp.c_proj.bias": ("E",),
}  # fmt: skip
_CROSS = {
    "crossattention.c_attn.weight": ("E", "2E"), "crossattention.c_attn.bias": ("2E",),
    "crossattention.q_attn.weight": ("E", "E"), "crossattention.q_attn.bias": ("E",),
    "crossattention.c_proj.weight": ("E", "E"), "crossattention.c_proj.bias": ("E",),
    "ln_cross_attn.weight": ("E",), "ln_cross_attn.bias": ("E",),
}  # fmt: skip


def read_checkpoint_json(path: Path, what: str, unique_keys: bool = False) -> Any:
    """The JSON in the regular file *path*; :class:`CheckpointError` naming it otherwise (with *unique_keys*,
    also when an object in it lists a key twice)."""
    problem = file_problem(path)
    if problem:
        raise CheckpointError(f"{path} {problem}.")
    try:
        return read_json(path, MAX_JSON_CHARS, unique_keys)
    except (OSError, ValueError) as exc:  # ValueError: bad UTF-8 or JSON, too large or too deep
        raise CheckpointError(f"{what} {path} cannot be read: {exc}") from exc


def read_config(folder: Path) -> dict[str, Any]:
    """The folder's ``config.json``: a GPT-2 config whose every size field is sane (aliases resolved)."""
    config_path = folder / "config.json"
    if not os.path.lexists(config_path):
        raise CheckpointError(f"{folder} has no config.json: not a Hugging Face checkpoint folder.")
    config = read_checkpoint_json(config_path, "The config")
    if not isinstance(config, dict):
        raise CheckpointError(f"{config_path} is not a JSON object.")
    model_type = config.get("model_type")
    if model_type != "gpt2":
        raise ArchitectureError(
            f"This is a {model_type or 'unknown'!s} model (model_type: {model_type!r}); "
            "gpt2q only handles GPT-2 students (model_type: 'gpt2')."
        )
    return validated_config(config)


def _shown(value: Any) -> str:
    text = repr(value)
    return text if len(text) <= 40 else text[:37] + "..."


def finite_number(value: Any) -> bool:
    """A JSON number (not a bool) that is finite as a float (a 400-digit integer is not)."""
    if isinstance(value, bool) or not isinstance(value, (int, float)):
        return False
    try:
        return math.isfinite(float(value))
    except OverflowError:
        return False


def _check_int(config: dict[str, Any], name: str) -> None:
    value, top = config.get(name, GPT2_DEFAULTS.get(name)), _MAXIMA[name]
    if value is None and name == "n_inner":
        return
    if not (isinstance(value, int) and not isinstance(value, bool) and 1 <= value <= top):
        raise ArchitectureError(
            f"config.json: {name} must be a whole number between 1 and {top:,}, not {_shown(value)}."
        )


def _resolve_aliases(config: dict[str, Any]) -> dict[str, Any]:
    """*config* with Hugging Face's alias names (``num_hidden_layers``...) moved to GPT-2's own names."""
    out = dict(config)
    for alias, name in _ALIASES.items():
        if alias not in out:
            continue
        value = out.pop(alias)
        if name in out and out[name] != value:
            raise ArchitectureError(
                f"config.json: {alias} ({_shown(value)}) and {name} ({_shown(out[name])}) disagree."
            )
        out[name] = value
    return out


def validated_config(config: dict[str, Any]) -> dict[str, Any]:
    """*config* checked field by field (types, ranges, divisibility, total size), aliases resolved.

    Raises :class:`ArchitectureError` naming the first bad field.
    """
    config = _resolve_aliases(config)
    for name in _MAXIMA:
        _check_int(config, name)
    n_embd, n_head = config_int(config, "n_embd"), config_int(config, "n_head")
    if n_embd % n_head:
        raise ArchitectureError(f"config.json: n_embd ({n_embd:,}) must be a multiple of n_head ({n_head:,}).")
    eps = config.get("layer_norm_epsilon", 1e-5)
    if not (finite_number(eps) and 0 < eps < 1):
        raise ArchitectureError(
            f"config.json: layer_norm_epsilon must be a number above 0 and below 1, not {_shown(eps)}."
        )
    for name in _DROPOUTS:
        value = config.get(name, 0.1)
        if not (finite_number(value) and 0 <= value <= 1):
            raise ArchitectureError(f"config.json: {name} must be a number from 0 to 1, not {_shown(value)}.")
    for name in _FLAGS:
        if name in config and not isinstance(config[name], bool):
            raise ArchitectureError(f"config.json: {name} must be true or false, not {_shown(config[name])}.")
    activation = config.get("activation_function", "gelu_new")
    if not isinstance(activation, str):
        raise ArchitectureError(f"config.json: activation_function must be a name, not {_shown(activation)}.")
    total = param_count(config)
    if total > MAX_PARAMS:
        raise ArchitectureError(
            f"config.json: n_layer, n_embd, n_inner, n_positions and vocab_size describe a model of "
            f"{format_count(total)} parameters; gpt2q handles up to {format_count(MAX_PARAMS)}."
        )
    return config


def config_int(config: dict[str, Any], name: str) -> int:
    """A size field of a validated config, or GPT-2's default when absent."""
    return int(config.get(name, GPT2_DEFAULTS[name]))


def _dims(config: dict[str, Any]) -> tuple[int, int, int, int, int]:
    """(n_layer, n_embd, inner width, vocab_size, n_positions) of a validated config."""
    n_embd = config_int(config, "n_embd")
    inner = int(config.get("n_inner") or 4 * n_embd)
    layers, vocab, positions = (config_int(config, name) for name in ("n_layer", "vocab_size", "n_positions"))
    return layers, n_embd, inner, vocab, positions


def param_count(config: dict[str, Any]) -> int:
    """Parameter count of a GPT-2 of this config (tied embeddings counted once, no cross-attention)."""
    n_layer, h, inner, vocab, positions = _dims(config)
    block = (4 * h * h + 4 * h) + (2 * h * inner + inner + h) + 4 * h
    return vocab * h + positions * h + n_layer * block + 2 * h


def format_count(n: float) -> str:
    """A count in human units: ``124.4 M``, ``1.6 B``."""
    return f"{n / 1e9:,.1f} B" if n >= 1e9 else f"{n / 1e6:,.1f} M"


def expected_shapes(config: dict[str, Any]) -> Shapes:
    """Every tensor a ``GPT2LMHeadModel`` of this (validated) config holds, with its shape."""
    n_layer, e, inner, vocab, positions = _dims(config)
    units = {"E": e, "2E": 2 * e, "3E": 3 * e, "I": inner}
    block = {**_BLOCK, **(_CROSS if config.get("add_cross_attention") else {})}
    shapes: Shapes = {"transformer.wte.weight": (vocab, e), "transformer.wpe.weight": (positions, e)}
    for i in range(n_layer):
        shapes.update({f"transformer.h.{i}.{k}": tuple(units[u] for u in dims) for k, dims in block.items()})
    shapes.update({"transformer.ln_f.weight": (e,), "transformer.ln_f.bias": (e,), "lm_head.weight": (vocab, e)})
    return shapes


def check_fit(expected: Shapes, found: Shapes, tied: bool) -> None:
    """Refuse weights (*found*, normalised keys) that are missing, unexpected or of the wrong shape."""
    found = dict(found)
    if tied and "lm_head.weight" in found:  # a tied pair may be stored under either name
        head = found.pop("lm_head.weight")
        found.setdefault("transformer.wte.weight", head)
    allowed_missing = {"lm_head.weight"} if tied else set()
    missing = sorted(set(expected) - set(found) - allowed_missing)
    unexpected = sorted(set(found) - set(expected))
    mismatched = [
        f"{k}: file {found[k]} vs config {expected[k]}"
        for k in sorted(set(expected) & set(found))
        if tuple(found[k]) != tuple(expected[k])
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


def check_weights_fit(config: dict[str, Any], found: Shapes) -> None:
    """Refuse weights whose keys or shapes differ from what the validated *config* implies."""
    check_fit(expected_shapes(config), found, bool(config.get("tie_word_embeddings", True)))
