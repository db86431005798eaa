"""Loading every accepted layout, and refusing every unsafe or wrong one with a typed error."""

from __future__ import annotations

import copy
import json
import shutil
from pathlib import Path

import pytest
import torch

from gpt2q_desktop.core.checkpoints.checkpoint import (
    KIND_SEED_INT8,
    inspect_checkpoint,
    load_checkpoint,
    load_tokenizer,
)
from gpt2q_desktop.core.checkpoints.synthetic import save_checkpoint
from gpt2q_desktop.core.errors import (
    ArchitectureError,
    CheckpointError,
    TokenizerError,
    UnsafeCheckpointError,
)
from gpt2q_desktop.core.measure.inference import last_logits
from gpt2q_desktop.core.paths import bundled_tokenizer_dir

IDS = torch.tensor([[15496, 995, 11, 314]])


def _copy(src: Path, dst: Path) -> Path:
    shutil.copytree(src, dst)
    return dst


def _same_logits(a: torch.nn.Module, b: torch.nn.Module) -> bool:
    """Equal up to float summation order (tensor alignment can change the SIMD path)."""
    return torch.allclose(last_logits(a, IDS), last_logits(b, IDS), rtol=0, atol=1e-5)


def test_safetensors_folder_loads_exactly(tiny_checkpoint: Path, tiny_model) -> None:
    loaded = load_checkpoint(tiny_checkpoint)
    assert loaded.info.weight_format == "safetensors"
    assert loaded.info.tokenizer_source == "checkpoint folder"
    assert loaded.model.lm_head.weight is loaded.model.transformer.wte.weight
    assert _same_logits(loaded.model, tiny_model)
    assert loaded.tokenizer("Hello world")["input_ids"] == [15496, 995]


def test_pytorch_bin_folder_loads_exactly(tmp_path: Path, tiny_model) -> None:
    folder = save_checkpoint(tiny_model, tmp_path / "bin", weights="bin")
    loaded = load_checkpoint(folder)
    assert loaded.info.weight_format == "pytorch .bin"
    assert _same_logits(loaded.model, tiny_model)


def test_the_stored_float_type_is_named_with_sizes_on_disk_and_in_memory(tmp_path: Path, tiny_model) -> None:
    fp32 = inspect_checkpoint(save_checkpoint(tiny_model, tmp_path / "fp32"))
    fp16 = inspect_checkpoint(save_checkpoint(copy.deepcopy(tiny_model).half(), tmp_path / "fp16"))
    binary = inspect_checkpoint(save_checkpoint(tiny_model, tmp_path / "bin", weights="bin"))
    assert (fp32.stored_dtype, fp16.stored_dtype, binary.stored_dtype) == ("FP32", "FP16", "≈FP32")
    assert fp16.fp32_bytes == fp32.fp32_bytes == fp32.n_params * 4
    assert abs(fp16.file_bytes * 2 - fp32.file_bytes) < 0.01 * fp32.file_bytes
    assert fp16.disk_text == f"{fp16.file_bytes / 1e6:.1f} MB FP16 (safetensors)"
    assert f"({fp32.fp32_bytes / 1e6:.1f} MB as FP32), {fp16.file_bytes / 1e6:.1f} MB FP16" in fp16.summary()


def test_sharded_safetensors_folder(tmp_path: Path, tiny_model) -> None:
    from safetensors.torch import save_file

    folder = save_checkpoint(tiny_model, tmp_path / "sharded")
    (folder / "model.safetensors").unlink()
    state = {k: v.contiguous() for k, v in tiny_model.state_dict().items() if k != "lm_head.weight"}
    keys = sorted(state)
    halves = {"model-00001-of-00002.safetensors": keys[::2], "model-00002-of-00002.safetensors": keys[1::2]}
    weight_map = {}
    for name, part in halves.items():
        save_file({k: state[k] for k in part}, str(folder / name))
        weight_map.update({k: name for k in part})
    (folder / "model.safetensors.index.json").write_text(json.dumps({"weight_map": weight_map}))
    loaded = load_checkpoint(folder)
    assert len(loaded.info.weight_files) == 2
    assert _same_logits(loaded.model, tiny_model)


def test_bare_gpt2model_keys_with_legacy_buffers(tmp_path: Path, tiny_model) -> None:
    """Old checkpoints: keys without ``transformer.``, plus ``attn.bias`` mask buffers."""
    folder = save_checkpoint(tiny_model, tmp_path / "legacy", weights="bin")
    state = {k.removeprefix("transformer."): v for k, v in tiny_model.state_dict().items() if k != "lm_head.weight"}
    state["h.0.attn.bias"] = torch.tril(torch.ones(1, 1, 64, 64))
    torch.save(state, folder / "pytorch_model.bin")
    assert _same_logits(load_checkpoint(folder).model, tiny_model)


def test_separate_tokenizer_folder(tmp_path: Path, tiny_checkpoint: Path) -> None:
    folder = _copy(tiny_checkpoint, tmp_path / "no-tok")
    for name in ("vocab.json", "merges.txt", "tokenizer_config.json"):
        (folder / name).unlink()
    with pytest.raises(TokenizerError, match="no tokenizer files"):
        load_checkpoint(folder)
    loaded = load_checkpoint(folder, tokenizer=bundled_tokenizer_dir())
    assert loaded.info.tokenizer_source == "separate folder"
    assert loaded.tokenizer("Hello world")["input_ids"] == [15496, 995]


def test_vocab_and_merges_only_tokenizer(tmp_path: Path) -> None:
    folder = tmp_path / "old-tok"
    folder.mkdir()
    for name in ("vocab.json", "merges.txt"):
        shutil.copy(bundled_tokenizer_dir() / name, folder / name)
    tok = load_tokenizer(folder)
    assert tok("Hello world")["input_ids"] == [15496, 995]
    assert tok.decode(tok("你好 😀")["input_ids"]) == "你好 😀"


def test_tokenizer_larger_than_model_vocab_is_refused(tmp_path: Path) -> None:
    with pytest.raises(TokenizerError, match="do not belong together"):
        load_tokenizer(bundled_tokenizer_dir(), vocab_size=1000)


def test_seed_int8_folder_is_loaded_and_labelled(tmp_path: Path, tiny_model) -> None:
    """The seed's quantize_model.py output: quantize_dynamic on the unconverted model, state_dict saved."""
    from torch.ao.quantization import quantize_dynamic

    from gpt2q_desktop.core.quiet import quiet_torch
    from gpt2q_desktop.core.torch_int8.modules import count_quantized

    folder = save_checkpoint(tiny_model, tmp_path / "seed-int8", weights="bin")
    with quiet_torch():
        seed = quantize_dynamic(tiny_model, {torch.nn.Linear}, dtype=torch.qint8)
    torch.save(seed.state_dict(), folder / "pytorch_model.bin")
    loaded = load_checkpoint(folder)
    assert loaded.kind == KIND_SEED_INT8
    assert "seed INT8" in loaded.label
    assert _same_logits(loaded.model, tiny_model)  # the FP32 baseline is rebuilt exactly from tied wte
    assert count_quantized(loaded.seed_int8_model) == 1  # only lm_head, as the seed did
    assert _same_logits(loaded.seed_int8_model, seed)


def test_malicious_pickle_is_refused_without_running(tmp_path: Path, tiny_checkpoint: Path) -> None:
    folder = _copy(tiny_checkpoint, tmp_path / "evil")
    (folder / "model.safetensors").unlink()
    marker = tmp_path / "pwned"

    class Evil:
        def __reduce__(self):
            return (Path.touch, (marker,))

    torch.save({"transformer.wte.weight": Evil()}, folder / "pytorch_model.bin")
    with pytest.raises(UnsafeCheckpointError, match="nothing in it was run"):
        load_checkpoint(folder)
    assert not marker.exists()


@pytest.mark.parametrize("name", ["model.safetensors", "pytorch_model.bin"])
def test_truncated_weights_are_refused(tmp_path: Path, tiny_model, name: str) -> None:
    folder = save_checkpoint(tiny_model, tmp_path / "cut", weights="bin" if name.endswith(".bin") else "safetensors")
    path = folder / name
    path.write_bytes(path.read_bytes()[: path.stat().st_size // 2])
    with pytest.raises(UnsafeCheckpointError, match="corrupt or truncated"):
        load_checkpoint(folder)


def test_bert_config_is_refused(tmp_path: Path, tiny_checkpoint: Path) -> None:
    folder = _copy(tiny_checkpoint, tmp_path / "bert")
    config = json.loads((folder / "config.json").read_text())
    config["model_type"] = "bert"
    (folder / "config.json").write_text(json.dumps(config))
    with pytest.raises(ArchitectureError, match="only handles GPT-2"):
        inspect_checkpoint(folder)


def test_mismatched_shapes_are_refused(tmp_path: Path, tiny_checkpoint: Path) -> None:
    folder = _copy(tiny_checkpoint, tmp_path / "shape")
    config = json.loads((folder / "config.json").read_text())
    config["n_positions"] = 32
    (folder / "config.json").write_text(json.dumps(config))
    with pytest.raises(ArchitectureError, match="wrong shape"):
        load_checkpoint(folder)


def test_missing_and_unexpected_keys_are_refused(tmp_path: Path, tiny_checkpoint: Path) -> None:
    folder = _copy(tiny_checkpoint, tmp_path / "keys")
    config = json.loads((folder / "config.json").read_text())
    config["n_layer"] = 3
    (folder / "config.json").write_text(json.dumps(config))
    with pytest.raises(ArchitectureError, match="missing"):
        load_checkpoint(folder)
    config["n_layer"] = 1
    (folder / "config.json").write_text(json.dumps(config))
    with pytest.raises(ArchitectureError, match="unexpected"):
        load_checkpoint(folder)


@pytest.mark.parametrize(
    ("setup", "message"),
    [
        (lambda p: None, "does not exist"),
        (lambda p: p.mkdir(), "no config.json"),
        (lambda p: p.write_text("x"), "is a file"),
        (lambda p: (p.mkdir(), (p / "config.json").write_text("{nope")), "cannot be read"),
        (lambda p: (p.mkdir(), (p / "config.json").write_text('{"model_type": "gpt2"}')), "No weights"),
    ],
)
def test_bad_folders_get_plain_messages(tmp_path: Path, setup, message: str) -> None:
    target = tmp_path / "target"
    setup(target)
    with pytest.raises(CheckpointError, match=message):
        inspect_checkpoint(target)


def test_index_pointing_outside_the_folder_is_refused(tmp_path: Path, tiny_checkpoint: Path) -> None:
    folder = _copy(tiny_checkpoint, tmp_path / "escape")
    (folder / "model.safetensors").rename(tmp_path / "outside.safetensors")
    (folder / "model.safetensors.index.json").write_text(json.dumps({"weight_map": {"a": "../outside.safetensors"}}))
    with pytest.raises(UnsafeCheckpointError, match="outside the folder"):
        inspect_checkpoint(folder)


def test_inspect_reports_shape_without_loading(tiny_checkpoint: Path, tiny_model) -> None:
    info = inspect_checkpoint(tiny_checkpoint)
    assert (info.n_layer, info.n_embd, info.vocab_size) == (2, 64, 50257)
    unique = {p.data_ptr(): p.numel() for p in tiny_model.parameters()}
    assert info.n_params == sum(unique.values())
    assert "2 layers" in info.summary()
