"""Find, validate and safely load GPT-2 student checkpoints.

Accepted layouts:

* a Hugging Face GPT-2 folder: ``config.json`` + ``model.safetensors`` (or ``pytorch_model.bin``),
  sharded or not, with its tokenizer files;
* the same without tokenizer files, with a tokenizer folder given separately;
* tokenizer folders holding ``tokenizer.json`` or only ``vocab.json`` + ``merges.txt``;
* a *seed-style INT8 folder*: ``config.json`` + a ``pytorch_model.bin`` that is the ``state_dict()`` of a
  ``quantize_dynamic``-ed model (only ``lm_head`` quantized).

Safety rules: safetensors first; ``.bin`` only through ``torch.load(weights_only=True)``; no remote code;
``model_type`` must be ``gpt2``; missing, unexpected or mismatched keys are errors; only regular files are
opened (never a FIFO, device or socket); config fields and safetensors headers are checked before anything
is built, non-finite weights right after loading.

:func:`inspect_checkpoint` reads only JSON and file headers (no torch import), so a window can show it
at once; :func:`load_checkpoint` does the heavy work.
"""

from __future__ import annotations

import os
from dataclasses import dataclass, field
from pathlib import Path
from typing import TYPE_CHECKING, Any

from gpt2q_desktop.core.checkpoints.config import (
    check_weights_fit,
    config_int,
    format_count,
    param_count,
    read_checkpoint_json,
    read_config,
)
from gpt2q_desktop.core.checkpoints.seed_int8 import SEED_LM_HEAD, seed_int8_model, seed_int8_split
from gpt2q_desktop.core.checkpoints.tokenizer import TOKENIZER_FILES, has_tokenizer, load_tokenizer, unusable_tokenizer
from gpt2q_desktop.core.checkpoints.weights import (
    PYTORCH_BIN,
    SAFETENSORS,
    estimated_float_type,
    float_type,
    model_from_state,
    normalise_keys,
    read_state_dict,
    safetensors_layout,
)
from gpt2q_desktop.core.errors import ArchitectureError, CheckpointError, TokenizerError, UnsafeCheckpointError
from gpt2q_desktop.core.files import file_problem
from gpt2q_desktop.core.sizes import mb, on_disk

if TYPE_CHECKING:
    from transformers import GPT2LMHeadModel, PreTrainedTokenizerFast

KIND_FP = "fp"
KIND_SEED_INT8 = "seed-int8"

_WEIGHT_LAYOUTS = (
    ("model.safetensors", SAFETENSORS, False),
    ("model.safetensors.index.json", SAFETENSORS, True),
    ("pytorch_model.bin", PYTORCH_BIN, False),
    ("pytorch_model.bin.index.json", PYTORCH_BIN, True),
)


@dataclass(frozen=True)
class CheckpointInfo:
    """What a checkpoint folder holds, read without loading any weights."""

    path: Path
    config: dict[str, Any]
    weight_files: tuple[Path, ...]
    weight_format: str
    tokenizer_dir: Path | None
    tokenizer_source: str
    stored_dtype: str = "unknown"
    """``FP16``, ``FP32``, … as the files store the weights (``≈`` when estimated, for a ``.bin``)."""

    @property
    def name(self) -> str:
        return self.path.name

    @property
    def n_layer(self) -> int:
        return config_int(self.config, "n_layer")

    @property
    def n_embd(self) -> int:
        return config_int(self.config, "n_embd")

    @property
    def n_head(self) -> int:
        return config_int(self.config, "n_head")

    @property
    def vocab_size(self) -> int:
        return config_int(self.config, "vocab_size")

    @property
    def n_positions(self) -> int:
        return config_int(self.config, "n_positions")

    @property
    def file_bytes(self) -> int:
        """The weight files' size on disk (in :attr:`stored_dtype`)."""
        return sum(f.stat().st_size for f in self.weight_files)

    @property
    def fp32_bytes(self) -> int:
        """The model's size in memory as FP32 (what the INT8 model is compared with)."""
        return self.n_params * 4

    @property
    def disk_text(self) -> str:
        """``32.2 MB FP16 (safetensors)``."""
        return on_disk(self.file_bytes, self.stored_dtype, self.weight_format)

    @property
    def n_params(self) -> int:
        """Parameter count of a GPT-2 of this shape (tied embeddings counted once)."""
        return param_count(self.config)

    @property
    def params_text(self) -> str:
        """The parameter count in human units: ``124.4 M``, ``1.6 B``."""
        return format_count(self.n_params)

    def summary(self) -> str:
        return (
            f"{self.name}: {self.n_layer} layers, hidden {self.n_embd}, vocab {self.vocab_size:,}, "
            f"{self.params_text} parameters ({mb(self.fp32_bytes)} as FP32), {self.disk_text} on disk, "
            f"tokenizer from {self.tokenizer_source}"
        )


@dataclass
class LoadedCheckpoint:
    """An FP32 GPT-2 ready for inference, its tokenizer, and what it was loaded from."""

    info: CheckpointInfo
    model: GPT2LMHeadModel
    tokenizer: PreTrainedTokenizerFast | None
    kind: str = KIND_FP
    notes: list[str] = field(default_factory=list)
    seed_int8_model: Any = None

    @property
    def label(self) -> str:
        if self.kind == KIND_SEED_INT8:
            return f"{self.info.name} (seed INT8 folder: lm_head only)"
        return self.info.name


@dataclass(frozen=True)
class Opened:
    """A loaded checkpoint: what it is, and what the user should know about it."""

    info: CheckpointInfo
    label: str
    notes: list[str] = field(default_factory=list)

    @property
    def has_tokenizer(self) -> bool:
        return self.info.tokenizer_dir is not None


def _inside(folder: Path, name: str) -> Path:
    """A file named by an index, refused if it points outside the checkpoint folder or is not a regular file."""
    try:
        candidate = (folder / name).resolve()
    except (OSError, RuntimeError, ValueError) as exc:  # RuntimeError: a symlink loop (Python < 3.13)
        raise CheckpointError(f"The weight index names {name!r}, which cannot be opened: {exc}.") from exc
    if folder.resolve() not in candidate.parents:
        raise UnsafeCheckpointError(f"The weight index points outside the folder: {name!r}.")
    problem = file_problem(candidate)
    if problem:
        raise CheckpointError(f"The weight index names {name!r}, which {problem} (in {folder}).")
    return candidate


def _find_weights(folder: Path) -> tuple[tuple[Path, ...], str]:
    """The first usable weight layout; if there is none, why the first one present is not usable."""
    problems = []
    for name, fmt, sharded in _WEIGHT_LAYOUTS:
        path = folder / name
        if not os.path.lexists(path):
            continue
        problem = file_problem(path)
        if problem:
            problems.append(f"{path} {problem}.")
            continue
        if not sharded:
            return (path,), fmt
        # unique_keys: a key listed twice leaves which shard holds it a guess
        index = read_checkpoint_json(path, "The weight index", unique_keys=True)
        weight_map = index.get("weight_map") if isinstance(index, dict) else None
        if not isinstance(weight_map, dict) or not weight_map:
            raise CheckpointError(f"The weight index {path} has no weight_map.")
        shards = sorted({str(v) for v in weight_map.values()})
        return tuple(_inside(folder, s) for s in shards), fmt
    raise CheckpointError(
        problems[0] if problems else f"No weights in {folder}: expected model.safetensors or pytorch_model.bin "
        "(or their sharded .index.json)."
    )


def _checked_folder(path: str | Path) -> Path:
    folder = Path(path).expanduser()
    if folder.is_dir():
        return folder
    problem = file_problem(folder)
    if problem is None:
        raise CheckpointError(f"{folder} is a file; choose the checkpoint's folder.")
    raise CheckpointError(f"{folder} {problem}.")


def inspect_checkpoint(
    path: str | Path, tokenizer: str | Path | None = None, require_tokenizer: bool = True
) -> CheckpointInfo:
    """Validate a checkpoint folder's layout, config and safetensors headers, without loading weights.

    Without *require_tokenizer* a folder with no tokenizer is accepted (``tokenizer_dir`` is None).
    """
    folder = _checked_folder(path)
    config = read_config(folder)
    weights, fmt = _find_weights(folder)
    if fmt == SAFETENSORS:  # the headers declare every shape and dtype: check them now (.bin: after loading)
        shapes, dtypes = safetensors_layout(weights)
        check_weights_fit(config, shapes)
        stored = float_type(dtypes)
    else:
        stored = estimated_float_type(sum(f.stat().st_size for f in weights), param_count(config))

    if tokenizer is not None:
        tok_dir, source = Path(tokenizer).expanduser(), "separate folder"
        if not has_tokenizer(tok_dir):
            raise TokenizerError(unusable_tokenizer(tok_dir) or f"{tok_dir} holds no GPT-2 tokenizer {TOKENIZER_FILES}.")
    elif has_tokenizer(folder):
        tok_dir, source = folder, "checkpoint folder"
    elif not require_tokenizer:
        tok_dir, source = None, "nowhere (none found)"
    else:
        problem = unusable_tokenizer(folder) or f"{folder} has no tokenizer files {TOKENIZER_FILES}."
        raise TokenizerError(f"{problem} Choose a tokenizer folder (CLI: --tokenizer DIR).")
    return CheckpointInfo(folder, config, weights, fmt, tok_dir, source, stored)


def gpt2_config(info: CheckpointInfo) -> Any:
    """A ``GPT2Config`` from the folder's config (no remote code).

    Also imports the GPT-2 model class, so that later timings measure work, not a first import.
    """
    from transformers import GPT2Config, GPT2LMHeadModel  # noqa: F401

    try:
        return GPT2Config.from_dict(info.config)
    except Exception as exc:
        raise ArchitectureError(f"config.json is not a valid GPT-2 config: {' '.join(str(exc).split())}") from exc


def load_checkpoint(
    path: str | Path, tokenizer: str | Path | None = None, require_tokenizer: bool = True
) -> LoadedCheckpoint:
    """Load a checkpoint folder safely into an FP32 ``GPT2LMHeadModel`` with its tokenizer."""
    return load_inspected(inspect_checkpoint(path, tokenizer, require_tokenizer))


def load_inspected(info: CheckpointInfo) -> LoadedCheckpoint:
    """Load the checkpoint that :func:`inspect_checkpoint` described as *info* (not checked again)."""
    config = gpt2_config(info)
    tok = load_tokenizer(info.tokenizer_dir, config.vocab_size) if info.tokenizer_dir else None
    state = normalise_keys(read_state_dict(info.weight_files, info.weight_format))
    tied = bool(getattr(config, "tie_word_embeddings", True))
    seed, notes = None, []
    if SEED_LM_HEAD in state:
        state, seed, notes = seed_int8_split(state, tied)
    bad = [k for k, v in state.items() if not hasattr(v, "shape")]
    if bad:
        raise ArchitectureError(f"The weights hold non-tensor entries: {', '.join(bad[:3])}.")
    check_weights_fit(info.config, {k: tuple(v.shape) for k, v in state.items()})  # before any model is built
    model = model_from_state(config, state)
    if seed is None:
        return LoadedCheckpoint(info, model, tok)
    return LoadedCheckpoint(info, model, tok, KIND_SEED_INT8, notes, seed_int8_model(model, *seed))


def weight_files_digest_input(info: CheckpointInfo) -> list[tuple[str, Path]]:
    """The files whose bytes identify the checkpoint, with stable names (config first)."""
    return [("config.json", info.path / "config.json")] + [(f.name, f) for f in info.weight_files]

