"""Files Windows holds: renames an antivirus or the indexer refuses for a moment, cache files a loaded model keeps
mapped, a log file another process has open. Windows' refusals are played here by ``PermissionError``s that carry
Windows' error codes, as Python raises them there."""

from __future__ import annotations

import os
import sys
from collections.abc import Callable
from pathlib import Path

import pytest

from gpt2q_desktop.core.store import durable

SHARING_VIOLATION = 32


def in_use(path: object = "") -> PermissionError:
    """The error Python raises on Windows for a file another program has open."""
    exc = PermissionError(13, "The process cannot access the file because it is being used by another process", path)
    exc.winerror = SHARING_VIOLATION  # type: ignore[attr-defined]
    return exc


def refusing(times: int, real: Callable[..., None]) -> Callable[..., None]:
    """A rename that Windows refuses *times* times, then does."""
    calls = []

    def rename(source: object, target: object) -> None:
        calls.append(source)
        if len(calls) <= times:
            raise in_use(source)
        real(source, target)

    return rename


@pytest.fixture
def pauses(monkeypatch: pytest.MonkeyPatch) -> list[float]:
    """The pauses the retries waited (none really waited)."""
    waited: list[float] = []
    monkeypatch.setattr(durable.time, "sleep", waited.append)
    return waited


def test_a_rename_refused_twice_is_tried_again_and_done(tmp_path: Path, monkeypatch, pauses) -> None:
    monkeypatch.setattr(os, "replace", refusing(2, os.replace))
    target = tmp_path / "notes.json"
    durable.atomic_write_text(target, "{}")
    assert target.read_text() == "{}" and pauses == list(durable.RENAME_PAUSES[:2])
    assert [p.name for p in tmp_path.iterdir()] == ["notes.json"]


def test_a_rename_always_refused_says_so_and_leaves_nothing(tmp_path: Path, monkeypatch, pauses) -> None:
    monkeypatch.setattr(os, "replace", refusing(99, os.replace))
    with pytest.raises(PermissionError) as caught:
        durable.atomic_write_text(tmp_path / "notes.json", "{}")
    assert "still refused after 6 tries" in str(caught.value) and "another program holds the file" in str(caught.value)
    assert pauses == list(durable.RENAME_PAUSES) and list(tmp_path.iterdir()) == []


def test_other_rename_errors_are_not_retried(tmp_path: Path, monkeypatch, pauses) -> None:
    def denied(source: object, target: object) -> None:
        raise PermissionError(13, "Permission denied")  # Linux's EACCES: no Windows error code, nothing to wait for

    monkeypatch.setattr(os, "replace", denied)
    with pytest.raises(PermissionError, match="Permission denied"):
        durable.replace_retrying(tmp_path / "a", tmp_path / "b")
    assert pauses == []


def test_a_cache_entry_whose_rename_is_refused_twice_is_cached(tiny_checkpoint: Path, monkeypatch, pauses) -> None:
    from gpt2q_desktop.core.store.model_cache import QuantCache

    flaky = refusing(2, os.replace)
    monkeypatch.setattr(os, "replace", flaky)
    monkeypatch.setattr(os, "rename", flaky)
    cache = QuantCache()
    entry = cache.store_file("k" * 32, {}, lambda path: path.write_bytes(b"payload"))
    assert cache.has("k" * 32) and (entry.path / "weights.safetensors").read_bytes() == b"payload"
    assert len(pauses) == 2


def test_a_cache_entry_whose_rename_is_always_refused_is_a_note_naming_the_holder(tiny_checkpoint, monkeypatch, pauses):
    from gpt2q_desktop.core.errors import CacheError
    from gpt2q_desktop.core.store.model_cache import QuantCache

    cache = QuantCache()
    cache.root.mkdir(parents=True)
    real_replace = os.replace
    monkeypatch.setattr(
        os, "replace", lambda s, t: (refusing(99, real_replace) if Path(s).parent == cache.root else real_replace)(s, t)
    )
    with pytest.raises(CacheError, match="another program holds the file"):
        cache.store_file("k" * 32, {}, lambda path: path.write_bytes(b"payload"))
    assert not cache.has("k" * 32) and list(cache.root.iterdir()) == []


def _cached(checkpoint: Path) -> tuple[object, object]:
    """The INT8 model of *checkpoint* loaded from the cache (quantized and stored first), and its report."""
    from gpt2q_desktop.core.checkpoints.checkpoint import inspect_checkpoint, load_checkpoint
    from gpt2q_desktop.core.options import RecipeOptions
    from gpt2q_desktop.core.store.model_cache import QuantCache
    from gpt2q_desktop.core.torch_int8.pipeline import quantize_checkpoint

    info = inspect_checkpoint(checkpoint)
    quantize_checkpoint(info, RecipeOptions(), lambda: load_checkpoint(checkpoint).model, QuantCache())
    model, report = quantize_checkpoint(info, RecipeOptions(), lambda: pytest.fail("not from the cache"), QuantCache())
    assert report.cache_hit
    return model, report


@pytest.mark.skipif(sys.platform != "linux", reason="reads /proc/self/maps")
def test_a_model_loaded_from_the_cache_keeps_no_file_of_it_mapped(tiny_checkpoint: Path) -> None:
    """Windows cannot delete a mapped file: an entry must stay deletable while a model built from it is in use."""
    model, report = _cached(tiny_checkpoint)
    with open("/proc/self/maps", encoding="utf-8") as fh:
        mapped = [line.split()[-1] for line in fh if report.cache_dir in line]
    assert mapped == [] and model is not None


def test_an_entry_windows_will_not_delete_stays_whole_and_clear_says_why(tiny_checkpoint, monkeypatch, capsys) -> None:
    """A file in use (another gpt2q holds the model) cannot be deleted on Windows: ``cache clear`` counts it as not
    deleted, says why, and leaves it whole (still listed and loadable), never half deleted."""
    from gpt2q_desktop.cli.main import main
    from gpt2q_desktop.core.store.model_cache import QuantCache

    _, report = _cached(tiny_checkpoint)
    real_unlink = os.unlink

    def unlink(path: object, *args: object, **kwargs: object) -> None:
        if Path(str(path)).name == "weights.safetensors":
            raise in_use(str(path))
        real_unlink(path, *args, **kwargs)

    monkeypatch.setattr(os, "unlink", unlink)
    assert main(["cache", "clear"]) == 0
    said = capsys.readouterr()
    assert said.out.strip() == "deleted 0 entries"
    assert "could not be deleted (weights.safetensors is in use by another program" in " ".join(said.err.split())
    assert QuantCache().payload(report.cache_key)  # whole: manifest and weights checked


def test_an_onnx_work_folder_windows_will_not_empty_yet_fails_nothing_and_is_swept_later(monkeypatch) -> None:
    """An antivirus scanning a graph the build just wrote: the work folder stays, and the cache's sweep removes it
    once this process is gone."""
    from gpt2q_desktop.core.ort.pipeline import _work_dir
    from gpt2q_desktop.core.store.model_cache import QuantCache

    cache = QuantCache()
    work = _work_dir(cache)
    (Path(work.name) / "int8.onnx").write_bytes(b"graph")
    real_unlink = os.unlink

    def unlink(path: object, *args: object, **kwargs: object) -> None:
        if str(path).endswith("int8.onnx"):
            raise in_use(str(path))
        real_unlink(path, *args, **kwargs)

    monkeypatch.setattr(os, "unlink", unlink)
    work.cleanup()
    assert Path(work.name).parent == cache.root and Path(work.name).name.startswith(f".tmp-{os.getpid()}-")
