"""The cache: reuse, corruption, interrupted and failed writes, listing and clearing."""

from __future__ import annotations

import errno
import json
from pathlib import Path

import pytest
import torch

from gpt2q_desktop.core.checkpoints.checkpoint import inspect_checkpoint, load_checkpoint
from gpt2q_desktop.core.errors import Cancelled
from gpt2q_desktop.core.measure.inference import last_logits
from gpt2q_desktop.core.options import RecipeOptions
from gpt2q_desktop.core.paths import data_dir as cache_data_dir
from gpt2q_desktop.core.store.model_cache import QuantCache
from gpt2q_desktop.core.torch_int8.pipeline import quantize_checkpoint

IDS = torch.tensor([[464, 3290, 318]])


class Loader:
    """Counts how often the FP32 model had to be loaded (only when the recipe runs)."""

    def __init__(self, folder: Path) -> None:
        self.folder, self.calls = folder, 0

    def __call__(self) -> torch.nn.Module:
        self.calls += 1
        return load_checkpoint(self.folder).model


def _run(folder: Path, cache: QuantCache, options: RecipeOptions = RecipeOptions(), **kw):
    loader = Loader(folder)
    model, report = quantize_checkpoint(inspect_checkpoint(folder), options, loader, cache, **kw)
    return model, report, loader


def _tmp_leftovers(cache: QuantCache) -> list[Path]:
    return list(cache.root.glob(".tmp-*")) if cache.root.exists() else []


def test_data_dir_follows_env(data_dir: Path) -> None:
    assert cache_data_dir() == QuantCache().data_dir == data_dir


def test_second_run_is_a_cache_hit_with_identical_outputs(tiny_checkpoint: Path) -> None:
    cache = QuantCache()
    first, r1, l1 = _run(tiny_checkpoint, cache)
    second, r2, l2 = _run(tiny_checkpoint, cache)
    assert (r1.cache_hit, r2.cache_hit) == (False, True)
    assert (l1.calls, l2.calls) == (1, 0), "a cache hit must not load or re-quantize the FP32 model"
    assert r2.layers_quantized == r1.layers_quantized == r1.layers_eligible
    assert r2.int8_bytes == r1.int8_bytes < r1.fp32_bytes
    assert torch.equal(last_logits(first, IDS), last_logits(second, IDS))
    manifest = json.loads((Path(r1.cache_dir) / "manifest.json").read_text())
    assert manifest["source"]["name"] == tiny_checkpoint.name and manifest["options"] == RecipeOptions().as_dict()


def test_options_change_the_key(tiny_checkpoint: Path) -> None:
    cache = QuantCache()
    _, a, _ = _run(tiny_checkpoint, cache)
    _, b, _ = _run(tiny_checkpoint, cache, RecipeOptions(per_channel=True))
    assert a.cache_key != b.cache_key and not b.cache_hit
    assert len(cache.entries()) == 2


@pytest.mark.parametrize("damage", ["flip", "truncate", "manifest", "foreign"])
def test_corrupt_entry_is_detected_and_rebuilt(tiny_checkpoint: Path, damage: str) -> None:
    cache = QuantCache()
    good, r1, _ = _run(tiny_checkpoint, cache)
    entry = Path(r1.cache_dir)
    weights, manifest = entry / "weights.safetensors", entry / "manifest.json"
    if damage == "flip":
        data = bytearray(weights.read_bytes())
        data[len(data) // 2] ^= 0xFF
        weights.write_bytes(bytes(data))
    elif damage == "truncate":
        weights.write_bytes(weights.read_bytes()[:1000])
    elif damage == "manifest":
        manifest.write_text("{ not json")
    else:
        m = json.loads(manifest.read_text())
        m["key"] = "someone-elses"
        manifest.write_text(json.dumps(m))
    rebuilt, r2, loader = _run(tiny_checkpoint, cache)
    assert not r2.cache_hit and loader.calls == 1
    assert any("unusable" in n for n in r2.notes)
    assert torch.equal(last_logits(rebuilt, IDS), last_logits(good, IDS))
    _, r3, _ = _run(tiny_checkpoint, cache)
    assert r3.cache_hit and not r3.notes


def test_interrupted_write_leaves_no_entry(tiny_checkpoint: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    import safetensors.torch

    def crash(tensors, path, metadata=None):
        Path(path).write_bytes(b"half a file")
        raise KeyboardInterrupt

    monkeypatch.setattr(safetensors.torch, "save_file", crash)
    cache = QuantCache()
    with pytest.raises(KeyboardInterrupt):
        _run(tiny_checkpoint, cache)
    assert cache.entries() == [] and _tmp_leftovers(cache) == []


def test_full_disk_keeps_the_model_and_the_cache_intact(tiny_checkpoint: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    import safetensors.torch

    cache = QuantCache()
    _run(tiny_checkpoint, cache, RecipeOptions(per_channel=True))  # an existing entry must survive

    def full(tensors, path, metadata=None):
        raise OSError(errno.ENOSPC, "No space left on device")

    monkeypatch.setattr(safetensors.torch, "save_file", full)
    model, report, _ = _run(tiny_checkpoint, cache)
    assert report.layers_quantized == report.layers_eligible and report.cache_dir == ""
    assert any("disk is full" in n for n in report.notes)
    assert last_logits(model, IDS).shape == (50257,)
    assert len(cache.entries()) == 1 and _tmp_leftovers(cache) == []


def test_cancel_leaves_no_entry(tiny_checkpoint: Path) -> None:
    cache = QuantCache()
    with pytest.raises(Cancelled):
        _run(tiny_checkpoint, cache, progress=lambda d, t, m: None, cancelled=lambda: True)
    assert cache.entries() == [] and _tmp_leftovers(cache) == []


def test_stale_temp_folders_of_dead_writers_are_swept(tiny_checkpoint: Path) -> None:
    cache = QuantCache()
    cache.root.mkdir(parents=True)
    stale = cache.root / ".tmp-999999999-abc"
    stale.mkdir()
    (stale / "weights.safetensors").write_bytes(b"partial")
    _run(tiny_checkpoint, cache)
    assert not stale.exists() and len(cache.entries()) == 1


def test_list_delete_and_clear(tiny_checkpoint: Path) -> None:
    cache = QuantCache()
    _run(tiny_checkpoint, cache)
    _run(tiny_checkpoint, cache, RecipeOptions(keep_lm_head=True))
    entries = cache.entries()
    assert len(entries) == 2 and all(e.bytes > 0 and e.source_name == tiny_checkpoint.name for e in entries)
    cache.delete(entries[0].key)
    assert [e.key for e in cache.entries()] == [entries[1].key]
    assert cache.clear() == 1 and cache.entries() == []


def test_weight_digest_is_remembered(tiny_checkpoint: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    import gpt2q_desktop.core.store.digests as digests_module

    cache = QuantCache()
    info = inspect_checkpoint(tiny_checkpoint)
    key = cache.key_for(info, {}, "b")
    monkeypatch.setattr(digests_module, "sha256_of", lambda p: pytest.fail("hashed twice"))
    assert cache.key_for(info, {}, "b") == key


class _Kernel32:
    """Windows' process calls, as ``pid_alive`` uses them, over a table of live processes (the Windows branch runs
    here too)."""

    def __init__(self, live: dict[int, int]) -> None:
        self.live, self.closed = live, 0

    def OpenProcess(self, access: int, inherit: bool, pid: int) -> int:  # noqa: N802 - Windows' name
        return pid if pid in self.live else 0

    def GetExitCodeProcess(self, handle: int, code) -> int:  # noqa: N802
        code._obj.value = self.live[handle]
        return 1

    def CloseHandle(self, handle: int) -> int:  # noqa: N802
        self.closed += 1
        return 1


def test_the_windows_process_check_never_signals(monkeypatch: pytest.MonkeyPatch) -> None:
    """On Windows os.kill(pid, 0) sends Ctrl+C: the check asks the kernel for the process's exit code instead."""
    import os

    from gpt2q_desktop.core.store import durable

    monkeypatch.setattr(os, "kill", lambda *a: pytest.fail("os.kill called on the Windows branch"))
    kernel32 = _Kernel32({40: 259, 41: 0})  # 259: STILL_ACTIVE; 0: exited, handle still open
    assert durable._windows_pid_alive(40, kernel32, lambda: 0) is True
    assert durable._windows_pid_alive(41, kernel32, lambda: 0) is False
    assert durable._windows_pid_alive(42, kernel32, lambda: 87) is False  # ERROR_INVALID_PARAMETER: no such process
    assert durable._windows_pid_alive(43, kernel32, lambda: 5) is True  # ERROR_ACCESS_DENIED: another user's
    assert durable._windows_pid_alive(-1, kernel32, lambda: 0) is False and kernel32.closed == 2


def test_the_sweep_on_windows_keeps_a_live_writers_folder_and_removes_a_dead_ones(monkeypatch: pytest.MonkeyPatch) -> None:
    from gpt2q_desktop.core.store import durable

    cache = QuantCache()
    cache.root.mkdir(parents=True)
    (cache.root / ".tmp-40-a").mkdir()
    (cache.root / ".tmp-42-b").mkdir()
    monkeypatch.setattr(durable.sys, "platform", "win32")
    monkeypatch.setattr(durable.ctypes, "WinDLL", lambda *a, **k: _Kernel32({40: 259}), raising=False)
    monkeypatch.setattr(durable.ctypes, "get_last_error", lambda: 87, raising=False)
    cache.sweep()
    assert sorted(p.name for p in cache.root.iterdir()) == [".tmp-40-a"]
