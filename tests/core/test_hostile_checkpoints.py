"""Hostile checkpoints: absurd configs, lying headers, int8 or non-finite weights, FIFOs, loops, broken
tokenizers. Each is refused with one typed error naming the cause, fast, and without a traceback in the CLI."""

from __future__ import annotations

import json
import math
import os
import shutil
import struct
import threading
import time
from collections.abc import Callable
from pathlib import Path
from typing import Any

import pytest
import torch

from gpt2q_desktop.cli.main import main
from gpt2q_desktop.core.checkpoints.checkpoint import CheckpointInfo, inspect_checkpoint, load_checkpoint
from gpt2q_desktop.core.checkpoints.config import expected_shapes, validated_config
from gpt2q_desktop.core.checkpoints.synthetic import save_checkpoint
from gpt2q_desktop.core.checkpoints.weights import PYTORCH_BIN, SAFETENSORS, read_state_dict
from gpt2q_desktop.core.errors import (
    ArchitectureError,
    CheckpointError,
    Gpt2qError,
    TokenizerError,
    UnsafeCheckpointError,
)
from tests.platform_marks import fifo_only, make_fifo, make_symlink, posix_only

_WTE_WITHOUT_DATA = b'{"transformer.wte.weight": {"dtype": "F32", "shape": [50257, 64], "data_offsets": [0, 12865792]}}'


def _copy(src: Path, tmp_path: Path) -> Path:
    return Path(shutil.copytree(src, tmp_path / "hostile"))


def _edit_config(folder: Path, **changes: Any) -> Path:
    config = json.loads((folder / "config.json").read_text())
    config.update(changes)
    (folder / "config.json").write_text(json.dumps(config))
    return folder


def _edit_weights(folder: Path, change: Callable[[dict[str, torch.Tensor]], None]) -> Path:
    from safetensors.torch import load_file, save_file

    state = load_file(str(folder / "model.safetensors"))
    change(state)
    save_file(state, str(folder / "model.safetensors"))
    return folder


def _raw_safetensors(path: Path, header: bytes, data: bytes = b"") -> None:
    path.write_bytes(struct.pack("<Q", len(header)) + header + data)


def _within(fn: Callable[[], Any], seconds: float = 20.0) -> Any:
    """*fn*'s result (or its exception), or a failure if it blocks (say, reading a FIFO) beyond *seconds*."""
    outcome: dict[str, Any] = {}

    def run() -> None:
        try:
            outcome["value"] = fn()
        except Exception as exc:  # noqa: BLE001 - re-raised in the test thread below
            outcome["error"] = exc

    worker = threading.Thread(target=run, daemon=True)
    worker.start()
    worker.join(seconds)
    assert not worker.is_alive(), f"still blocked after {seconds} s"
    if "error" in outcome:
        raise outcome["error"]
    return outcome.get("value")


REFUSED_WITHIN_S = 5.0
"""Refusing takes milliseconds (no weights are read, nothing is built); the bound leaves room for a machine busy
with other work, and still fails on anything that allocates or reads a model of the absurd size a config claims."""


def _refused_fast(folder: Path, error: type[Gpt2qError], *fragments: str) -> str:
    """inspect_checkpoint refuses *folder* with *error* at once; the message holds *fragments*."""
    start = time.perf_counter()
    with pytest.raises(error) as caught:
        _within(lambda: inspect_checkpoint(folder))
    assert time.perf_counter() - start < REFUSED_WITHIN_S
    message = str(caught.value)
    assert "\n" not in message and all(f in message for f in fragments), message
    return message


# -- config.json fields ------------------------------------------------------------------------------------
@pytest.mark.parametrize(
    ("changes", "field"),
    [
        ({"n_layer": 100000}, "n_layer must be a whole number between 1 and 1,000, not 100000"),
        ({"n_layer": "two"}, "n_layer must be a whole number between 1 and 1,000, not 'two'"),
        ({"n_layer": True}, "n_layer"),
        ({"n_embd": 64.0}, "n_embd"),
        ({"n_head": 3}, "n_embd (64) must be a multiple of n_head (3)"),
        ({"vocab_size": 0}, "vocab_size"),
        ({"n_positions": 10**30}, "n_positions"),
        ({"n_inner": -5}, "n_inner"),
        ({"layer_norm_epsilon": math.nan}, "layer_norm_epsilon"),
        ({"layer_norm_epsilon": 10**400}, "layer_norm_epsilon"),
        ({"attn_pdrop": 2}, "attn_pdrop"),
        ({"tie_word_embeddings": "yes"}, "tie_word_embeddings"),
        ({"num_hidden_layers": 100000}, "num_hidden_layers (100000) and n_layer (2) disagree"),
        ({"n_layer": 1000, "n_embd": 8192}, "B parameters; gpt2q handles up to 20.0 B"),
    ],
)
def test_absurd_or_wrong_config_fields_are_refused_at_once(
    tmp_path: Path, tiny_checkpoint: Path, changes: dict[str, Any], field: str
) -> None:
    folder = _edit_config(_copy(tiny_checkpoint, tmp_path), **changes)
    _refused_fast(folder, ArchitectureError, "config.json: ", field)


def test_expected_shapes_match_the_model_transformers_builds() -> None:
    from transformers import GPT2Config

    from gpt2q_desktop.core.checkpoints.weights import skeleton

    for fields in ({"n_layer": 2, "n_embd": 64, "n_head": 2}, {"n_layer": 1, "n_embd": 48, "n_head": 3,
                   "n_inner": 100, "vocab_size": 99, "n_positions": 17, "add_cross_attention": True}):  # fmt: skip
        config = validated_config({"model_type": "gpt2", **fields})
        built = {k: tuple(v.shape) for k, v in skeleton(GPT2Config.from_dict(config)).state_dict().items()}
        assert built == expected_shapes(config)


def test_parameter_counts_are_human_sized() -> None:
    gpt2 = {"model_type": "gpt2"}
    xl = {"model_type": "gpt2", "n_layer": 48, "n_embd": 1600, "n_head": 25}
    infos = [CheckpointInfo(Path("m"), validated_config(c), (), SAFETENSORS, None, "nowhere") for c in (gpt2, xl)]
    assert "124.4 M parameters" in infos[0].summary()
    assert "1.6 B parameters" in infos[1].summary()


# -- weights against config ----------------------------------------------------------------------------------
def test_safetensors_header_that_disagrees_with_config_is_refused_before_loading(
    tmp_path: Path, tiny_checkpoint: Path
) -> None:
    folder = _edit_config(_copy(tiny_checkpoint, tmp_path), n_positions=32)
    _refused_fast(folder, ArchitectureError, "wrong shape", "transformer.wpe.weight: file (64, 64) vs config (32, 64)")
    _edit_config(folder, n_positions=64, n_layer=1000)
    _refused_fast(folder, ArchitectureError, "11976 missing (e.g. transformer.h.")


def test_bin_weights_that_disagree_with_config_are_refused_before_any_model_is_built(
    tmp_path: Path, tiny_model, monkeypatch: pytest.MonkeyPatch
) -> None:
    from gpt2q_desktop.core.checkpoints import weights

    built = []
    monkeypatch.setattr(weights, "skeleton", lambda config: built.append(config))
    folder = _edit_config(save_checkpoint(tiny_model, tmp_path / "bin", weights="bin"), n_layer=1000)
    with pytest.raises(ArchitectureError, match="11976 missing"):
        load_checkpoint(folder)
    assert built == []


def test_int8_tensors_are_refused_by_name(tmp_path: Path, tiny_checkpoint: Path) -> None:
    key = "transformer.h.0.attn.c_attn.weight"

    def to_int8(state: dict[str, torch.Tensor]) -> None:
        state[key] = state[key].mul(100).to(torch.int8)

    folder = _edit_weights(_copy(tiny_checkpoint, tmp_path), to_int8)
    _refused_fast(folder, ArchitectureError, f"tensor {key} is stored as I8", "F32, F16 or BF16")


@pytest.mark.parametrize(
    "write",
    [
        lambda p: p.write_bytes(b"\xff" * 8 + b"{}"),  # absurd header length
        lambda p: p.write_bytes(b"\x01\x00"),  # shorter than the length field
        lambda p: _raw_safetensors(p, b"{nope"),
        lambda p: _raw_safetensors(p, b"[]"),
        lambda p: _raw_safetensors(p, _WTE_WITHOUT_DATA),
        lambda p: _raw_safetensors(p, b'{"a": {"dtype": "F32", "shape": [2, 2], "data_offsets": [0, 4]}}', b"\0" * 4),
        lambda p: _raw_safetensors(p, b'{"a": {"dtype": "F32", "shape": [true], "data_offsets": [0, 4]}}', b"\0" * 4),
        lambda p: _raw_safetensors(p, b'{"a": {"dtype": ["F32"], "shape": [1], "data_offsets": [0, 4]}}', b"\0" * 4),
    ],
)
def test_corrupt_safetensors_headers_are_refused_at_once(tmp_path: Path, tiny_checkpoint: Path, write) -> None:
    folder = _copy(tiny_checkpoint, tmp_path)
    write(folder / "model.safetensors")
    _refused_fast(folder, UnsafeCheckpointError, "model.safetensors is corrupt or truncated")


@pytest.mark.parametrize("value", [math.nan, math.inf, -math.inf])
@pytest.mark.parametrize("fmt", ["safetensors", "bin"])
def test_non_finite_weights_are_refused_before_anything_is_built(
    tmp_path: Path, tiny_model, fmt: str, value: float
) -> None:
    folder = save_checkpoint(tiny_model, tmp_path / "nan", weights=fmt)
    state = {k: v.clone() for k, v in tiny_model.state_dict().items() if k != "lm_head.weight"}
    state["transformer.h.1.mlp.c_fc.weight"][3, 5] = value
    if fmt == "bin":
        torch.save(state, folder / "pytorch_model.bin")
    else:
        from safetensors.torch import save_file

        save_file(state, str(folder / "model.safetensors"))
    with pytest.raises(CheckpointError, match="tensor transformer.h.1.mlp.c_fc.weight holds NaN or infinite"):
        load_checkpoint(folder)


def test_seed_int8_head_with_nan_bias_is_refused(tmp_path: Path, tiny_model) -> None:
    from torch.ao.quantization import quantize_dynamic

    from gpt2q_desktop.core.checkpoints.seed_int8 import SEED_LM_HEAD
    from gpt2q_desktop.core.quiet import quiet_torch

    folder = save_checkpoint(tiny_model, tmp_path / "seed", weights="bin")
    with quiet_torch():
        state = quantize_dynamic(tiny_model, {torch.nn.Linear}, dtype=torch.qint8).state_dict()
    qweight = state[SEED_LM_HEAD][0]
    state[SEED_LM_HEAD] = (qweight, torch.full((qweight.shape[0],), math.nan))
    torch.save(state, folder / "pytorch_model.bin")
    with pytest.raises(CheckpointError, match="seed INT8 lm_head holds NaN"):
        load_checkpoint(folder)


# -- files that are not regular files --------------------------------------------------------------------------
@fifo_only
@pytest.mark.parametrize(
    ("name", "error"),
    [
        ("config.json", CheckpointError),
        ("model.safetensors", CheckpointError),
        ("vocab.json", TokenizerError),
        ("model.safetensors.index.json", CheckpointError),
    ],
)
def test_fifos_are_refused_without_blocking(tmp_path: Path, tiny_checkpoint: Path, name: str, error) -> None:
    folder = _copy(tiny_checkpoint, tmp_path)
    if name.endswith(".index.json"):
        (folder / "model.safetensors").unlink()
    else:
        (folder / name).unlink()
    make_fifo(folder / name)
    _refused_fast(folder, error, f"{folder / name} is a named pipe (FIFO), not a file.")


@fifo_only
@pytest.mark.parametrize("fmt", [SAFETENSORS, PYTORCH_BIN])
def test_weight_reader_refuses_a_fifo_itself(tmp_path: Path, fmt: str) -> None:
    make_fifo(tmp_path / "weights")
    with pytest.raises(CheckpointError, match="is a named pipe"):
        _within(lambda: read_state_dict((tmp_path / "weights",), fmt))


@fifo_only
def test_fifo_shard_named_by_the_index_is_refused(tmp_path: Path, tiny_checkpoint: Path) -> None:
    folder = _copy(tiny_checkpoint, tmp_path)
    (folder / "model.safetensors").unlink()
    make_fifo(folder / "shard.safetensors")
    (folder / "model.safetensors.index.json").write_text(json.dumps({"weight_map": {"a": "shard.safetensors"}}))
    _refused_fast(folder, CheckpointError, "'shard.safetensors', which is a named pipe (FIFO)")


@pytest.mark.parametrize(
    ("make", "cause"),
    [
        (lambda p: p.mkdir(), "is a folder, not a file."),
        (lambda p: make_symlink(p.name, p), "is a symbolic link loop."),
        pytest.param(lambda p: make_symlink(os.devnull, p), "is a device, not a file.", marks=posix_only),
    ],
)
def test_weights_that_are_not_files_name_the_real_cause(tmp_path: Path, tiny_checkpoint: Path, make, cause) -> None:
    folder = _copy(tiny_checkpoint, tmp_path)
    (folder / "model.safetensors").unlink()
    make(folder / "model.safetensors")
    message = _refused_fast(folder, CheckpointError, f"{folder / 'model.safetensors'} {cause}")
    assert "No weights" not in message


def test_symlink_loop_checkpoint_folder_is_not_called_missing(tmp_path: Path) -> None:
    loop = tmp_path / "loop"
    make_symlink(loop.name, loop)
    message = _refused_fast(loop, CheckpointError, f"{loop} is a symbolic link loop.")
    assert "does not exist" not in message


# -- tokenizer files -------------------------------------------------------------------------------------------
@pytest.mark.parametrize(
    ("files", "fragment"),
    [
        ({"tokenizer.json": "{nope"}, "tokenizer.json cannot be read as a tokenizer file"),
        ({"tokenizer.json": "[]"}, "tokenizer.json is not a GPT-2 tokenizer file"),
        ({"vocab.json": "garbage!!"}, "vocab.json cannot be read as a tokenizer file"),
        ({"vocab.json": '{"a": "b"}'}, "vocab.json is not a GPT-2 tokenizer file"),
        ({"vocab.json": '{"a": 0, "b": 1, "c": 2}'}, "vocab.json + merges.txt in"),
        ({"vocab.json": '{"\\u0120": 0, "x": 1}', "merges.txt": "#version: 0.2\n"}, "cannot encode plain text"),
        ({"merges.txt": b"\xff\xfe garbage"}, "merges.txt cannot be read as a tokenizer file"),
    ],
)
def test_broken_tokenizer_files_are_named(tmp_path: Path, tiny_checkpoint: Path, files: dict, fragment: str) -> None:
    folder = _copy(tiny_checkpoint, tmp_path)
    if "tokenizer.json" in files:
        for name in ("vocab.json", "merges.txt"):
            (folder / name).unlink()
    for name, content in files.items():
        (folder / name).write_bytes(content if isinstance(content, bytes) else content.encode())
    with pytest.raises(TokenizerError) as caught:
        load_checkpoint(folder)
    assert fragment in str(caught.value) and "\n" not in str(caught.value)


# -- the CLI: one line, exit 2, no traceback, nothing cached -------------------------------------------------------
def _break_config(folder: Path, tmp_path: Path) -> Path:
    return _edit_config(folder, n_layer=100000)


def _break_header_shape(folder: Path, tmp_path: Path) -> Path:
    return _edit_config(folder, n_positions=32)


def _break_dtype(folder: Path, tmp_path: Path) -> Path:
    return _edit_weights(folder, lambda s: s.update({k: v.to(torch.int8) for k, v in s.items()}))


def _break_header(folder: Path, tmp_path: Path) -> Path:
    (folder / "model.safetensors").write_bytes(b"\xff" * 16)
    return folder


def _break_finite(folder: Path, tmp_path: Path) -> Path:
    return _edit_weights(folder, lambda s: s["transformer.ln_f.weight"].fill_(math.nan))


def _break_fifo(folder: Path, tmp_path: Path) -> Path:
    (folder / "model.safetensors").unlink()
    make_fifo(folder / "model.safetensors")
    return folder


def _break_folder(folder: Path, tmp_path: Path) -> Path:
    (folder / "model.safetensors").unlink()
    (folder / "model.safetensors").mkdir()
    return folder


def _break_loop(folder: Path, tmp_path: Path) -> Path:
    make_symlink("loop", tmp_path / "loop")
    return tmp_path / "loop"


def _break_tokenizer(folder: Path, tmp_path: Path) -> Path:
    (folder / "vocab.json").write_text("garbage!!")
    return folder


def _shard(folder: Path, weights: str = "safetensors") -> dict[str, str]:
    """Split *folder*'s weights into two shards with an index (keys alternating); the index's weight_map."""
    from safetensors.torch import load_file, save_file

    state = load_file(str(folder / "model.safetensors"))
    (folder / "model.safetensors").unlink()
    keys, weight_map = sorted(state), {}
    for i, part in enumerate((keys[::2], keys[1::2]), 1):
        name = f"model-0000{i}-of-00002.safetensors" if weights == "safetensors" else f"pytorch_model-0000{i}-of-00002.bin"
        tensors = {k: state[k].contiguous() for k in part}
        save_file(tensors, str(folder / name)) if weights == "safetensors" else torch.save(tensors, folder / name)
        weight_map.update(dict.fromkeys(part, name))
    index = "model.safetensors.index.json" if weights == "safetensors" else "pytorch_model.bin.index.json"
    (folder / index).write_text(json.dumps({"weight_map": weight_map}))
    return weight_map


def _copy_in_other_shard(folder: Path, weights: str = "safetensors", key: str = "lm_head.weight") -> Path:
    """A zero copy of *key* in the shard the index does not map it to (merged last, it would win)."""
    from safetensors.torch import load_file, save_file

    weight_map = _shard(folder, weights)
    other = next(name for name in set(weight_map.values()) if name != weight_map[key])
    if weights == "safetensors":
        state = load_file(str(folder / other))
        state[key] = torch.zeros(50257, 64)
        save_file(state, str(folder / other))
    else:
        state = torch.load(folder / other, weights_only=True)
        state[key] = torch.zeros(50257, 64)
        torch.save(state, folder / other)
    return folder


def _break_shared_shard(folder: Path, tmp_path: Path) -> Path:
    return _copy_in_other_shard(folder)


def _break_index_twice(folder: Path, tmp_path: Path) -> Path:
    weight_map = _shard(folder)
    index = folder / "model.safetensors.index.json"
    first = json.dumps({"lm_head.weight": weight_map["lm_head.weight"]})[1:-1]
    index.write_text(index.read_text().replace('{"weight_map": {', '{"weight_map": {' + first + ", ", 1))
    return folder


@pytest.mark.parametrize(
    ("hostile", "cause"),
    [
        (_break_config, "config.json: n_layer must be a whole number between 1 and 1,000, not 100000"),
        (_break_header_shape, "wrong shape"),
        (_break_dtype, "is stored as I8"),
        (_break_header, "corrupt or truncated"),
        (_break_finite, "transformer.ln_f.weight holds NaN or infinite values"),
        pytest.param(_break_fifo, "is a named pipe (FIFO), not a file", marks=fifo_only),
        (_break_folder, "model.safetensors is a folder, not a file"),
        (_break_loop, "is a symbolic link loop"),
        (_break_tokenizer, "vocab.json cannot be read as a tokenizer file"),
        (_break_shared_shard, "The tensor lm_head.weight is in two weight files"),
        (_break_index_twice, "lists the key 'lm_head.weight' twice"),
    ],
)
def test_cli_prints_one_line_and_caches_nothing(tmp_path: Path, tiny_checkpoint: Path, capsys, hostile, cause) -> None:
    folder = hostile(_copy(tiny_checkpoint, tmp_path), tmp_path)
    code = _within(lambda: main(["quantize", str(folder)]))
    err = capsys.readouterr().err
    lines = [line for line in err.splitlines() if line.startswith("gpt2q: error:")]
    assert code == 2 and len(lines) == 1 and cause in lines[0], err
    assert "Traceback" not in err
    assert main(["cache", "list", "--json"]) == 0
    assert json.loads(capsys.readouterr().out)["entries"] == []


def test_a_bin_state_dict_with_non_text_keys_is_refused(tmp_path: Path, tiny_model) -> None:
    folder = save_checkpoint(tiny_model, tmp_path / "bin", weights="bin")
    torch.save({0: torch.zeros(2)}, folder / "pytorch_model.bin")
    with pytest.raises(UnsafeCheckpointError, match="does not hold a state_dict"):
        load_checkpoint(folder)


def test_a_dangling_tokenizer_json_beside_good_vocab_and_merges_is_skipped(tmp_path: Path, tiny_checkpoint: Path) -> None:
    folder = _copy(tiny_checkpoint, tmp_path)
    make_symlink(tmp_path / "gone.json", folder / "tokenizer.json")
    info = inspect_checkpoint(folder)
    assert info.tokenizer_dir == folder
    assert load_checkpoint(folder).tokenizer("Hello world", add_special_tokens=False)["input_ids"] == [15496, 995]


# -- a tokenizer whose ids go past the model's vocabulary ----------------------------------------------------------
def _far_id_tokenizer(folder: Path, kind: str) -> None:
    """*folder*'s tokenizer with the 50,257 entries of GPT-2's, but the id of ``Ġcat`` moved to 70,000."""
    vocab = json.loads((folder / "vocab.json").read_text(encoding="utf-8"))
    assert len(vocab) == 50257 and vocab["Ġcat"] < 50257
    if kind == "vocab.json":
        vocab["Ġcat"] = 70_000
        (folder / "vocab.json").write_text(json.dumps(vocab), encoding="utf-8")
        return
    from gpt2q_desktop.core.checkpoints.checkpoint import load_tokenizer

    spec = json.loads(load_tokenizer(folder).backend_tokenizer.to_str())
    spec["model"]["vocab"]["Ġcat"] = 70_000
    (folder / "tokenizer.json").write_text(json.dumps(spec), encoding="utf-8")
    for name in ("vocab.json", "merges.txt"):
        (folder / name).unlink()


@pytest.mark.parametrize("kind", ["vocab.json", "tokenizer.json"])
def test_a_token_id_past_the_vocabulary_is_refused_when_the_checkpoint_loads(tmp_path: Path, tiny_checkpoint: Path, kind: str) -> None:
    folder = _copy(tiny_checkpoint, tmp_path)
    _far_id_tokenizer(folder, kind)
    with pytest.raises(TokenizerError) as caught:
        load_checkpoint(folder)
    message = str(caught.value)
    assert "70,000" in message and "50,257" in message and "\n" not in message, message


def test_cli_compare_with_a_token_id_past_the_vocabulary_prints_one_line(tmp_path: Path, tiny_checkpoint: Path, capsys) -> None:
    folder = _copy(tiny_checkpoint, tmp_path)
    _far_id_tokenizer(folder, "vocab.json")
    fast = ["--repeats", "1", "--warmup", "0", "--threads", "1"]
    code = main(["compare", str(folder), "--prompt", "The cat sat on the mat", *fast])
    err = capsys.readouterr().err
    lines = [line for line in err.splitlines() if line.startswith("gpt2q: error:")]
    assert code == 2 and len(lines) == 1 and "token ids up to 70,000" in lines[0], err
    assert "Traceback" not in err


# -- a tensor in two shards, a key twice in an index ---------------------------------------------------------------
@pytest.mark.parametrize("weights", ["safetensors", "bin"])
def test_a_tensor_in_two_shards_is_refused(tmp_path: Path, tiny_checkpoint: Path, weights: str) -> None:
    folder = _copy_in_other_shard(_copy(tiny_checkpoint, tmp_path), weights)
    with pytest.raises(CheckpointError) as caught:
        load_checkpoint(folder)
    message = str(caught.value)
    assert "lm_head.weight is in two weight files" in message and "\n" not in message, message
    assert "model-00001-of-00002" in message and "model-00002-of-00002" in message
    if weights == "safetensors":  # its headers tell at once
        _refused_fast(folder, CheckpointError, "lm_head.weight is in two weight files")


def test_a_read_of_bin_shards_refuses_a_tensor_twice(tmp_path: Path, tiny_checkpoint: Path) -> None:
    folder = _copy_in_other_shard(_copy(tiny_checkpoint, tmp_path), "bin")
    shards = tuple(sorted(folder.glob("pytorch_model-*.bin")))
    with pytest.raises(CheckpointError, match="in two weight files"):
        read_state_dict(shards, PYTORCH_BIN)


def test_an_index_listing_a_key_twice_is_refused(tmp_path: Path, tiny_checkpoint: Path) -> None:
    folder = _break_index_twice(_copy(tiny_checkpoint, tmp_path), tmp_path)
    _refused_fast(folder, CheckpointError, "model.safetensors.index.json", "lists the key 'lm_head.weight' twice")


def test_sharded_weights_without_a_shared_tensor_still_load(tmp_path: Path, tiny_checkpoint: Path, tiny_model) -> None:
    folder = _copy(tiny_checkpoint, tmp_path)
    _shard(folder)
    loaded = load_checkpoint(folder)
    assert len(loaded.info.weight_files) == 2
    assert torch.equal(loaded.model.lm_head.weight, tiny_model.lm_head.weight)
