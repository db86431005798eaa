"""Find, validate and safely load GPT-2 student checkpoints.

Accepted layouts:

* a Hugging Face GPT-2 folder: ``config.json`` + ``model.safetensors`` (or ``pytorch_model.bin``),
  sharded or not, with its tokenizer files;
* the same without tokenizer files, with a tokenizer folder given separately;
* tokenizer folders holding ``tokenizer.json`` or only ``vocab.json`` + ``merges.txt``;
* a *seed-style INT8 folder*: ``config.json`` + a ``pytorch_model.bin`` that is the ``state_dict()`` of a
  ``quantize_dynamic``-ed model (only ``lm_head`` quantized).

Safety rules: safetensors first; ``.bin`` only through ``torch.load(weights_only=True)``; no remote code;
``model_type`` must be ``gpt2``; missing, unexpected or mismatched keys are errors.

:func:`inspect_checkpoint` reads only JSON and file headers (no torch import), so a window can show it
at once; :func:`load_checkpoint` does the heavy work.
"""

from __future__ import annotations

import json
from dataclasses import dataclass, field
from pathlib import Path
from typing import TYPE_CHECKING, Any

from .errors import (
    ArchitectureError,
    CheckpointError,
    TokenizerError,
    UnsafeCheckpointError,
)
from .seed_int8 import SEED_LM_HEAD, seed_int8_model, seed_int8_split
from .weights import PYTORCH_BIN, SAFETENSORS, model_from_state, normalise_keys, read_state_dict

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

    @property
    def name(self) -> str:
        return self.path.name

    @property
    def n_layer(self) -> int:
        return int(self.config.get("n_layer", 12))

    @property
    def n_embd(self) -> int:
        return int(self.config.get("n_embd", 768))

    @property
    def n_head(self) -> int:
        return int(self.config.get("n_head", 12))

    @property
    def vocab_size(self) -> int:
        return int(self.config.get("vocab_size", 50257))

    @property
    def n_positions(self) -> int:
        return int(self.config.get("n_positions", 1024))

    @property
    def file_bytes(self) -> int:
        return sum(f.stat().st_size for f in self.weight_files)

    @property
    def n_params(self) -> int:
        """Parameter count of a GPT-2 of this shape (tied embeddings counted once)."""
        h, inner = self.n_embd, int(self.config.get("n_inner") or 4 * self.n_embd)
        block = (4 * h * h + 4 * h) + (2 * h * inner + inner + h) + 4 * h
        return self.vocab_size * h + self.n_positions * h + self.n_layer * block + 2 * h

    def summary(self) -> str:
        return (
            f"{self.name}: {self.n_layer} layers, hidden {self.n_embd}, vocab {self.vocab_size:,}, "
            f"{self.n_params / 1e6:.1f} M parameters, {self.file_bytes / 1e6:.1f} MB {self.weight_format}, "
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


def _read_json(path: Path, what: str) -> Any:
    try:
        return json.loads(path.read_text(encoding="utf-8"))
    except (OSError, UnicodeDecodeError, json.JSONDecodeError) as exc:
        raise CheckpointError(f"{what} {path} cannot be read: {exc}") from exc


def _inside(folder: Path, name: str) -> Path:
    """A file named by an index, refused if it points outside the checkpoint folder."""
    candidate = (folder / name).resolve()
    if folder.resolve() not in candidate.parents:
        raise UnsafeCheckpointError(f"The weight index points outside the folder: {name!r}.")
    if not candidate.is_file():
        raise CheckpointError(f"The weight index names {name!r}, which is missing from {folder}.")
    return candidate


def _find_weights(folder: Path) -> tuple[tuple[Path, ...], str]:
    for name, fmt, sharded in _WEIGHT_LAYOUTS:
        path = folder / name
        if not path.is_file():
            continue
        if not sharded:
            return (path,), fmt
        index = _read_json(path, "The weight index")
        weight_map = index.get("weight_map") if isinstance(index, dict) else None
        if not isinstance(weight_map, dict) or not weight_map:
            raise CheckpointError(f"The weight index {path} has no weight_map.")
        shards = sorted({str(v) for v in weight_map.values()})
        return tuple(_inside(folder, s) for s in shards), fmt
    raise CheckpointError(
        f"No weights in {folder}: expected model.safetensors or pytorch_model.bin "
        "(or their sharded .index.json)."
    )


def has_tokenizer(folder: Path) -> bool:
    """True when *folder* holds ``tokenizer.json`` or ``vocab.json`` + ``merges.txt``."""
    return (folder / "tokenizer.json").is_file() or (
        (folder / "vocab.json").is_file() and (folder / "merges.txt").is_file()
    )


def inspect_checkpoint(
    path: str | Path, tokenizer: str | Path | None = None, require_tokenizer: bool = True
) -> CheckpointInfo:
    """Validate a checkpoint folder's layout and config, without loading weights.

    Without *require_tokenizer* a folder with no tokenizer is accepted (``tokenizer_dir`` is None).
    """
    folder = Path(path).expanduser()
    if not folder.exists():
        raise CheckpointError(f"{folder} does not exist.")
    if not folder.is_dir():
        raise CheckpointError(f"{folder} is a file; choose the checkpoint's folder.")
    config_path = folder / "config.json"
    if not config_path.is_file():
        raise CheckpointError(f"{folder} has no config.json: not a Hugging Face checkpoint folder.")
    config = _read_json(config_path, "The config")
    if not isinstance(config, dict):
        raise CheckpointError(f"{config_path} is not a JSON object.")
    model_type = config.get("model_type")
    if model_type != "gpt2":
        raise ArchitectureError(
            f"This is a {model_type or 'unknown'!s} model (model_type: {model_type!r}); "
            "gpt2q only handles GPT-2 students (model_type: 'gpt2')."
        )
    weights, fmt = _find_weights(folder)

    if tokenizer is not None:
        tok_dir, source = Path(tokenizer).expanduser(), "separate folder"
        if not has_tokenizer(tok_dir):
            raise TokenizerError(
                f"{tok_dir} holds no GPT-2 tokenizer (tokenizer.json, or vocab.json + merges.txt)."
            )
    elif has_tokenizer(folder):
        tok_dir, source = folder, "checkpoint folder"
    elif not require_tokenizer:
        tok_dir, source = None, "nowhere (none found)"
    else:
        raise TokenizerError(
            f"{folder} has no tokenizer files (tokenizer.json, or vocab.json + merges.txt); "
            "choose a tokenizer folder (CLI: --tokenizer DIR)."
        )
    return CheckpointInfo(folder, config, weights, fmt, tok_dir, source)


def load_tokenizer(folder: Path, vocab_size: int | None = None) -> PreTrainedTokenizerFast:
    """Build a GPT-2 tokenizer from ``tokenizer.json`` or from ``vocab.json`` + ``merges.txt``."""
    from transformers import GPT2TokenizerFast

    try:
        if (folder / "tokenizer.json").is_file():
            tok = GPT2TokenizerFast(tokenizer_file=str(folder / "tokenizer.json"))
        else:
            tok = GPT2TokenizerFast(vocab=str(folder / "vocab.json"), merges=str(folder / "merges.txt"))
    except Exception as exc:  # tokenizers raises plain Exception subclasses on bad files
        raise TokenizerError(f"The tokenizer in {folder} cannot be read: {exc}") from exc
    if len(tok) < 2:
        raise TokenizerError(f"The tokenizer in {folder} is empty.")
    if vocab_size is not None and len(tok) > vocab_size:
        raise TokenizerError(
            f"The tokenizer in {folder} has {len(tok):,} tokens but the model only {vocab_size:,}: "
            "they do not belong together."
        )
    return tok


def gpt2_config(info: CheckpointInfo) -> Any:
    """A ``GPT2Config`` from the folder's config (no remote code).

    Also imports the GPT-2 model class, so that later timings measure work, not a first import.
    """
    from transformers import GPT2Config, GPT2LMHeadModel  # noqa: F401

    try:
        return GPT2Config.from_dict(info.config)
    except Exception as exc:
        raise ArchitectureError(f"config.json is not a valid GPT-2 config: {exc}") from exc


def load_checkpoint(
    path: str | Path, tokenizer: str | Path | None = None, require_tokenizer: bool = True
) -> LoadedCheckpoint:
    """Load a checkpoint folder safely into an FP32 ``GPT2LMHeadModel`` with its tokenizer."""
    info = inspect_checkpoint(path, tokenizer, require_tokenizer)
    config = gpt2_config(info)
    tok = load_tokenizer(info.tokenizer_dir, config.vocab_size) if info.tokenizer_dir else None
    state = normalise_keys(read_state_dict(info.weight_files, info.weight_format))
    tied = bool(getattr(config, "tie_word_embeddings", True))
    if SEED_LM_HEAD in state:
        state, (qweight, bias), notes = seed_int8_split(state, tied)
        model = model_from_state(config, state)
        seed = seed_int8_model(model, qweight, bias)
        return LoadedCheckpoint(info, model, tok, KIND_SEED_INT8, notes, seed)
    bad = [k for k, v in state.items() if not hasattr(v, "shape")]
    if bad:
        raise ArchitectureError(f"The weights hold non-tensor entries: {', '.join(bad[:3])}.")
    return LoadedCheckpoint(info, model_from_state(config, state), tok)


def weight_files_digest_input(info: CheckpointInfo) -> list[tuple[str, Path]]:
    """The files whose bytes identify the checkpoint, with stable names (config first)."""
    return [("config.json", info.path / "config.json")] + [(f.name, f) for f in info.weight_files]

