"""The cache under hostile conditions: a full disk, tampered manifests, special files where files belong."""

from __future__ import annotations

import json
import os
import threading
from collections.abc import Callable
from pathlib import Path
from typing import Any

import pytest
import torch

from gpt2q_desktop.cli.main import main
from gpt2q_desktop.core.checkpoints.checkpoint import inspect_checkpoint, load_checkpoint
from gpt2q_desktop.core.errors import Cancelled
from gpt2q_desktop.core.measure.inference import last_logits
from gpt2q_desktop.core.options import RecipeOptions
from gpt2q_desktop.core.results import QuantizeReport
from gpt2q_desktop.core.store.model_cache import QuantCache
from gpt2q_desktop.core.torch_int8.pipeline import quantize_checkpoint
from tests.platform_marks import make_fifo, make_symlink

IDS = torch.tensor([[464, 3290, 318]])
TIMEOUT = 240.0


def _quantize(folder: Path, cache: QuantCache | None = None) -> tuple[torch.nn.Module, QuantizeReport]:
    info, cache = inspect_checkpoint(folder), cache if cache is not None else QuantCache()
    return quantize_checkpoint(info, RecipeOptions(), lambda: load_checkpoint(folder).model, cache)


@pytest.fixture(scope="module")
def pristine(tiny_checkpoint: Path, tmp_path_factory: pytest.TempPathFactory) -> tuple[torch.nn.Module, QuantizeReport]:
    """The tiny checkpoint quantized once, into a data folder of this module's: the model and its report."""
    return _quantize(tiny_checkpoint, QuantCache(tmp_path_factory.mktemp("pristine")))


def _cached(pristine: tuple[torch.nn.Module, QuantizeReport]) -> tuple[torch.nn.Module, QuantizeReport]:
    """The pristine entry copied into this test's cache (as if quantized here): the model and a report naming the copy."""
    import shutil
    from dataclasses import replace

    good, report = pristine
    copy = QuantCache().root / report.cache_key
    shutil.copytree(report.cache_dir, copy)
    return good, replace(report, cache_dir=str(copy))


def _cli(argv: list[str], capsys: pytest.CaptureFixture[str]) -> tuple[int, str, str]:
    code = main(argv)
    captured = capsys.readouterr()
    return code, captured.out, captured.err


def _in_thread(fn: Callable[[], Any], fifo: Path) -> Any:
    """*fn*'s result, run in a thread; a run still blocked after ``TIMEOUT`` fails the test (and is unblocked)."""
    result: dict[str, Any] = {}
    thread = threading.Thread(target=lambda: result.update(value=fn()), daemon=True)
    thread.start()
    thread.join(TIMEOUT)
    if thread.is_alive():
        os.close(os.open(fifo, os.O_WRONLY | os.O_NONBLOCK))  # lets a reader blocked on the FIFO go on
        pytest.fail(f"blocked on the FIFO {fifo}")
    assert "value" in result, "the run raised (see the thread's traceback above)"
    return result["value"]


def _leftovers(cache: QuantCache) -> list[Path]:
    return list(cache.root.iterdir()) if cache.root.exists() else []


# -- a full disk, or any other failure of the writer ---------------------------------------------------------
def _failing_writer(monkeypatch: pytest.MonkeyPatch, exc: BaseException) -> None:
    import safetensors.torch

    def save_file(tensors: dict[str, torch.Tensor], path: str, metadata: Any = None) -> None:
        Path(path).write_bytes(b"half a file")
        raise exc

    monkeypatch.setattr(safetensors.torch, "save_file", save_file)


def _safetensors_full_disk() -> Exception:
    from safetensors import SafetensorError

    return SafetensorError('Error while serializing: IoError(Os { code: 28, message: "No space left on device" })')


@pytest.mark.parametrize(
    ("make_error", "says"),
    [(_safetensors_full_disk, "the disk is full"), (lambda: ValueError("writer\nbroke"), "writer broke")],
    ids=["safetensors-enospc", "other-exception"],
)
def test_any_write_failure_is_one_note_and_the_model_is_kept(
    tiny_checkpoint: Path, monkeypatch: pytest.MonkeyPatch, make_error: Callable[[], Exception], says: str
) -> None:
    _failing_writer(monkeypatch, make_error())
    model, report = _quantize(tiny_checkpoint)
    assert last_logits(model, IDS).shape == (50257,)
    assert report.layers_quantized == report.layers_eligible and not report.cache_hit and report.cache_dir == ""
    assert len(report.notes) == 1 and says in report.notes[0] and "\n" not in report.notes[0]
    assert _leftovers(QuantCache()) == [], "no entry and no .tmp-* folder may remain"


def test_full_disk_cli_quantize_exits_0_with_a_note(tiny_checkpoint: Path, monkeypatch, capsys) -> None:
    _failing_writer(monkeypatch, _safetensors_full_disk())
    code, out, err = _cli(["quantize", str(tiny_checkpoint)], capsys)
    assert code == 0 and "Traceback" not in err
    assert [line for line in err.splitlines() if line.startswith("note:")] == [
        "note: Could not save the model to the cache (the disk is full); nothing was left behind."
    ]
    assert "(not cached)" in out and _leftovers(QuantCache()) == []


@pytest.mark.parametrize("exc", [KeyboardInterrupt(), Cancelled()], ids=["interrupt", "cancel"])
def test_interrupt_while_writing_propagates_and_leaves_nothing(
    tiny_checkpoint: Path, monkeypatch: pytest.MonkeyPatch, exc: BaseException
) -> None:
    _failing_writer(monkeypatch, exc)
    with pytest.raises(type(exc)):
        _quantize(tiny_checkpoint)
    assert _leftovers(QuantCache()) == []


# -- tampered manifests --------------------------------------------------------------------------------------
def _drop(name: str) -> Callable[[dict[str, Any]], None]:
    return lambda m: m.pop(name)


def _set(name: str, value: Any) -> Callable[[dict[str, Any]], None]:
    return lambda m: m.__setitem__(name, value)


def _set_in(name: str, field: str, value: Any) -> Callable[[dict[str, Any]], None]:
    return lambda m: m[name].__setitem__(field, value)


TAMPERS = {
    "layout-5": _set("layout", 5),
    "layout-list-missing": lambda m: m["layout"].pop("quantized_linears"),
    "layout-names-not-text": _set_in("layout", "int8_embeddings", [1, 2]),
    "layout-flag-not-bool": _set_in("layout", "lm_head_shares_wte", "yes"),
    "fp32_bytes-abc": _set("fp32_bytes", "abc"),
    "fp32_bytes-negative": _set("fp32_bytes", -1),
    "weights_bytes-true": _set("weights_bytes", True),
    "weights_bytes-float": _set("weights_bytes", 12.5),
    "quantize_seconds-none": _set("quantize_seconds", None),
    "quantize_seconds-nan": _set("quantize_seconds", float("nan")),
    "created-text": _set("created", "yesterday"),
    "created-infinite": _set("created", float("inf")),
    "quantize_seconds-huge-integer": _set("quantize_seconds", 10**400),
    "options-exclude-infinity": _set_in("options", "exclude_layers", [float("inf")]),
    "sha-not-hex": _set("weights_sha256", "z" * 64),
    "format-true": _set("format", True),
    "key-missing": _drop("key"),
    "fp32_bytes-missing": _drop("fp32_bytes"),
    "source-text": _set("source", "somewhere"),
    "source-name-number": _set_in("source", "name", 5),
    "options-list": _set("options", []),
    "options-exclude-text": _set_in("options", "exclude_layers", "abc"),
    "backend-number": _set("backend", 3),
}
WELL_FORMED = {"layout-unknown-module": _set_in("layout", "quantized_linears", ["transformer.h.99.mlp.c_fc"])}
"""Tampering that passes the manifest's checks: the recipe finds it when it rebuilds the model."""


def _tamper(manifest: Path, how: str) -> None:
    if how == "not-an-object":
        manifest.write_text("[1, 2]")
    elif how == "nested-deeply":
        manifest.write_text("[" * 100_000 + "]" * 100_000)
    elif how == "bad-utf8":
        manifest.write_bytes(b'{"format": "\xff"}')
    else:
        m = json.loads(manifest.read_text())
        {**TAMPERS, **WELL_FORMED}[how](m)
        manifest.write_text(json.dumps(m))


@pytest.mark.parametrize("how", [*TAMPERS, *WELL_FORMED, "not-an-object", "nested-deeply", "bad-utf8"])
def test_tampered_manifest_is_listed_reported_once_deleted_and_rebuilt(
    tiny_checkpoint: Path, pristine, capsys, how: str
) -> None:
    good, first = _cached(pristine)
    key, entry = first.cache_key, Path(first.cache_dir)
    _tamper(entry / "manifest.json", how)

    code, out, _ = _cli(["cache", "list", "--json"], capsys)
    listed = json.loads(out)["entries"]
    assert code == 0 and [e["key"] for e in listed] == [key]
    assert bool(listed[0]["problem"]) == (how not in WELL_FORMED)
    assert listed[0]["source"] == ("(corrupt entry)" if listed[0]["problem"] else tiny_checkpoint.name)
    assert _cli(["cache", "list"], capsys)[0] == 0

    rebuilt, second = _quantize(tiny_checkpoint)
    assert not second.cache_hit and len(second.notes) == 1
    assert "unusable" in second.notes[0] and second.notes[0].count(key) == 1, second.notes
    assert torch.equal(last_logits(rebuilt, IDS), last_logits(good, IDS))
    _, third = _quantize(tiny_checkpoint)
    assert third.cache_hit and not third.notes and third.fp32_bytes == first.fp32_bytes


def test_tampered_manifest_cli_says_the_key_once(tiny_checkpoint: Path, capsys) -> None:
    _, first = _quantize(tiny_checkpoint)
    _tamper(Path(first.cache_dir) / "manifest.json", "fp32_bytes-abc")
    code, out, err = _cli(["quantize", str(tiny_checkpoint)], capsys)
    assert code == 0 and "Traceback" not in err
    assert err.count(first.cache_key) == 1 and "note: " in err and "fp32_bytes" in err
    code, out, _ = _cli(["quantize", str(tiny_checkpoint), "--json"], capsys)
    assert json.loads(out)["cache_hit"] is True


# -- special files where the cache expects regular ones ------------------------------------------------------
@pytest.mark.parametrize("kind", ["fifo", "folder"])
def test_special_digest_index_is_ignored_and_left_alone(tiny_checkpoint: Path, data_dir: Path, kind: str) -> None:
    index = data_dir / "file-digests.json"
    data_dir.mkdir(parents=True)
    if kind == "fifo":
        make_fifo(index)
    else:
        index.mkdir()
    _, report = _in_thread(lambda: _quantize(tiny_checkpoint), index)
    assert report.layers_quantized == report.layers_eligible and not report.notes
    assert index.is_fifo() if kind == "fifo" else index.is_dir(), "a special file must not be replaced"
    _, again = _in_thread(lambda: _quantize(tiny_checkpoint), index)
    assert again.cache_hit


def test_fifo_digest_index_cli(tiny_checkpoint: Path, data_dir: Path, capsys) -> None:
    data_dir.mkdir(parents=True)
    make_fifo(data_dir / "file-digests.json")
    assert _in_thread(lambda: main(["quantize", str(tiny_checkpoint)]), data_dir / "file-digests.json") == 0


@pytest.mark.parametrize("name", ["manifest.json", "weights.safetensors"])
def test_fifo_in_an_entry_is_never_opened(tiny_checkpoint: Path, name: str) -> None:
    _, first = _quantize(tiny_checkpoint)
    fifo = Path(first.cache_dir) / name
    fifo.unlink()
    make_fifo(fifo)
    listed = _in_thread(lambda: QuantCache().entries(), fifo)
    assert len(listed) == 1 and (name == "weights.safetensors" or listed[0].problem)
    _, second = _in_thread(lambda: _quantize(tiny_checkpoint), fifo)
    assert not second.cache_hit and len(second.notes) == (name == "weights.safetensors")
    _, third = _quantize(tiny_checkpoint)
    assert third.cache_hit and not third.notes


def test_entry_path_taken_by_a_file_is_replaced(tiny_checkpoint: Path) -> None:
    _, first = _quantize(tiny_checkpoint)
    entry = Path(first.cache_dir)
    for f in entry.iterdir():
        f.unlink()
    entry.rmdir()
    entry.write_text("not a folder")
    _, second = _quantize(tiny_checkpoint)
    assert second.cache_dir == str(entry) and not second.notes
    assert _quantize(tiny_checkpoint)[1].cache_hit


# -- tampered tensors whose checksum matches: the checksum check alone cannot catch them ----------------------------
def _fix_checksum(entry: Path, payload: str) -> None:
    """Make *entry*'s manifest vouch for its (tampered) *payload*: size and sha256 as they now are."""
    import hashlib

    data = (entry / payload).read_bytes()
    manifest = json.loads((entry / "manifest.json").read_text())
    manifest.update(weights_bytes=len(data), weights_sha256=hashlib.sha256(data).hexdigest())
    (entry / "manifest.json").write_text(json.dumps(manifest))


def _rewrite_tensors(entry: Path, change: Callable[[dict[str, torch.Tensor]], None]) -> None:
    from safetensors.torch import load_file, save_file

    tensors = load_file(str(entry / "weights.safetensors"))
    change(tensors)
    save_file(tensors, str(entry / "weights.safetensors"))
    _fix_checksum(entry, "weights.safetensors")


def _edit(key: str, edit: Callable[[torch.Tensor], torch.Tensor]) -> Callable[[dict[str, torch.Tensor]], None]:
    return lambda t: t.__setitem__(key, edit(t[key]).contiguous())


_H0, _WPE = "transformer.h.0", "transformer.wpe"
TENSOR_TAMPERS = {
    "bias-missing": (lambda t: t.pop(f"{_H0}.attn.c_attn.bias"), "c_attn.bias is missing"),
    "bias-short": (_edit(f"{_H0}.mlp.c_proj.bias", lambda b: b[:10]), "c_proj.bias is torch.float32 [10]"),
    "weight-transposed": (_edit(f"{_H0}.mlp.c_fc.weight_int8", lambda w: w.t()), "c_fc.weight_int8 is torch.int8 [64, 256]"),
    "scales-doubled": (_edit(f"{_H0}.attn.c_proj.weight_scales", lambda s: torch.cat([s, s])), "weight_scales"),
    "scales-float64": (_edit(f"{_H0}.attn.c_proj.weight_scales", lambda s: s.double()), "torch.float64"),
    "layer-norm-short": (_edit("transformer.ln_f.weight", lambda w: w[:32]), "ln_f.weight is torch.float32 [32]"),
    "layer-norm-fp16": (_edit("transformer.ln_f.bias", lambda b: b.half()), "ln_f.bias is torch.float16"),
    "position-rows-short": (
        lambda t: t.update({f"{_WPE}.weight_int8": t[f"{_WPE}.weight_int8"][:8], f"{_WPE}.scales": t[f"{_WPE}.scales"][:8]}),
        "wpe.weight_int8 is torch.int8 [8, 64]",
    ),
    "token-rows-as-floats": (_edit("transformer.wte.weight_int8", lambda w: w.float()), "wte.weight_int8 is torch.float32"),
    "unexpected-tensor": (lambda t: t.__setitem__(f"{_H0}.attn.extra", torch.zeros(3)), "unexpected tensor"),
}


@pytest.mark.parametrize("how", TENSOR_TAMPERS)
def test_a_tampered_entry_whose_checksum_matches_is_noted_deleted_and_rebuilt(
    tiny_checkpoint: Path, pristine, how: str
) -> None:
    good, first = _cached(pristine)
    change, says = TENSOR_TAMPERS[how]
    _rewrite_tensors(Path(first.cache_dir), change)
    QuantCache().payload(first.cache_key)  # the manifest and the checksum vouch for the tampered file

    rebuilt, second = _quantize(tiny_checkpoint)
    assert not second.cache_hit and len(second.notes) == 1, second.notes
    note = second.notes[0]
    assert note.count(first.cache_key) == 1 and "was unusable (the model cannot be rebuilt from it" in note, note
    assert note.endswith("it was deleted and rebuilt.") and says in note and "\n" not in note, note
    assert torch.equal(last_logits(rebuilt, IDS), last_logits(good, IDS))
    long_ids = torch.arange(1000, 1040).unsqueeze(0)  # past the 8 rows a short position embedding would hold
    assert torch.equal(last_logits(rebuilt, long_ids), last_logits(good, long_ids))
    _, third = _quantize(tiny_checkpoint)
    assert third.cache_hit and not third.notes


def test_cli_quantize_with_a_tampered_entry_notes_it_once_and_exits_0(tiny_checkpoint: Path, capsys) -> None:
    _, first = _quantize(tiny_checkpoint)
    _rewrite_tensors(Path(first.cache_dir), TENSOR_TAMPERS["bias-missing"][0])
    code, out, err = _cli(["quantize", str(tiny_checkpoint), "--json"], capsys)
    assert code == 0 and "Traceback" not in err and json.loads(out)["cache_hit"] is False
    assert err.count(first.cache_key) == 1 and "c_attn.bias is missing" in err


class _OddFailure(Exception):
    """Something no list of expected exceptions would name."""


def test_any_exception_while_rebuilding_makes_the_entry_unusable(tiny_checkpoint: Path, monkeypatch) -> None:
    from gpt2q_desktop.core.torch_int8.recipe import DynamicInt8Recipe

    good, first = _quantize(tiny_checkpoint)

    def odd(self: Any, config: Any, flattened: Any) -> Any:
        raise _OddFailure("a library\nfailed oddly")

    monkeypatch.setattr(DynamicInt8Recipe, "rebuild", odd)
    rebuilt, second = _quantize(tiny_checkpoint)
    assert not second.cache_hit and len(second.notes) == 1
    assert "(the model cannot be rebuilt from it: _OddFailure: a library failed oddly)" in second.notes[0]
    assert torch.equal(last_logits(rebuilt, IDS), last_logits(good, IDS))
    monkeypatch.undo()
    assert _quantize(tiny_checkpoint)[1].cache_hit


def test_running_out_of_memory_while_loading_an_entry_keeps_it(tiny_checkpoint: Path, monkeypatch) -> None:
    from gpt2q_desktop.core.torch_int8.recipe import DynamicInt8Recipe

    _, first = _quantize(tiny_checkpoint)

    def no_memory(self: Any, config: Any, flattened: Any) -> Any:
        raise MemoryError

    monkeypatch.setattr(DynamicInt8Recipe, "rebuild", no_memory)
    with pytest.raises(MemoryError):
        _quantize(tiny_checkpoint)
    monkeypatch.undo()
    assert Path(first.cache_dir).is_dir() and _quantize(tiny_checkpoint)[1].cache_hit


# -- an entry folder that is a symbolic link: reported as what it is -----------------------------------------------
def _linked_entry(tiny_checkpoint: Path, tmp_path: Path) -> tuple[Path, Path, QuantizeReport]:
    """The default recipe's entry moved out of the cache and linked back in: (the link, its target, the report)."""
    import shutil

    _, first = _quantize(tiny_checkpoint)
    link = Path(first.cache_dir)
    target = Path(shutil.move(str(link), str(tmp_path / "moved-entry")))
    make_symlink(target, link)
    return link, target, first


def _intact(target: Path) -> list[str]:
    return sorted(p.name for p in target.iterdir())


def test_cache_clear_removes_a_linked_entry_as_a_link_and_says_so(tiny_checkpoint: Path, tmp_path: Path, capsys) -> None:
    link, target, first = _linked_entry(tiny_checkpoint, tmp_path)
    quantize_checkpoint(inspect_checkpoint(tiny_checkpoint), RecipeOptions(keep_lm_head=True),
                        lambda: load_checkpoint(tiny_checkpoint).model, QuantCache())  # a real entry beside it  # fmt: skip
    listed = {e["key"]: e for e in json.loads(_cli(["cache", "list", "--json"], capsys)[1])["entries"]}
    assert "symbolic link" in listed[first.cache_key]["problem"] and listed[first.cache_key]["bytes"] == 0

    code, out, err = _cli(["cache", "clear"], capsys)
    assert code == 0 and out.strip() == "deleted 1 entry", out
    said = [line for line in err.splitlines() if line.startswith("note:")]
    assert len(said) == 1 and first.cache_key in said[0] and "symbolic link" in said[0], err
    assert "target" in said[0] and str(target) in said[0]
    assert not os.path.lexists(link) and _intact(target) == ["manifest.json", "weights.safetensors"]
    assert json.loads(_cli(["cache", "list", "--json"], capsys)[1])["entries"] == []
    _, again = _quantize(tiny_checkpoint)
    assert not again.cache_hit and not again.notes, "nothing of the cleared cache may be served"


def test_cache_clear_json_counts_only_what_it_deleted(tiny_checkpoint: Path, tmp_path: Path, capsys) -> None:
    link, target, first = _linked_entry(tiny_checkpoint, tmp_path)
    code, out, _ = _cli(["cache", "clear", "--json"], capsys)
    cleared = json.loads(out)
    assert code == 0 and cleared["deleted"] == 0 and len(cleared["notes"]) == 1 and first.cache_key in cleared["notes"][0]
    assert not os.path.lexists(link) and _intact(target) == ["manifest.json", "weights.safetensors"]


def test_a_linked_entry_is_not_followed_its_link_removed_and_the_model_rebuilt(tiny_checkpoint: Path, tmp_path: Path) -> None:
    link, target, first = _linked_entry(tiny_checkpoint, tmp_path)
    _, second = _quantize(tiny_checkpoint)
    assert not second.cache_hit and len(second.notes) == 1, second.notes
    note = second.notes[0]
    assert note.count(first.cache_key) == 1 and "symbolic link" in note and "left alone" in note, note
    assert "could not be deleted" not in note and "it was deleted" not in note
    assert link.is_dir() and not link.is_symlink() and _intact(target) == ["manifest.json", "weights.safetensors"]
    _, third = _quantize(tiny_checkpoint)
    assert third.cache_hit and not third.notes


def test_deleting_a_linked_entry_removes_the_link_only(tiny_checkpoint: Path, tmp_path: Path) -> None:
    link, target, first = _linked_entry(tiny_checkpoint, tmp_path)
    QuantCache().delete(first.cache_key)  # what the window's cache manager does
    assert not os.path.lexists(link) and _intact(target) == ["manifest.json", "weights.safetensors"]


def test_an_entry_that_cannot_be_deleted_gets_one_note_that_says_so(tiny_checkpoint: Path, monkeypatch) -> None:
    _, first = _quantize(tiny_checkpoint)
    _tamper(Path(first.cache_dir) / "manifest.json", "fp32_bytes-abc")
    real_unlink = os.unlink

    def refuse(path: Any, *args: Any, **kw: Any) -> None:
        if Path(path).parent.name == first.cache_key:  # the entry's files
            raise PermissionError(13, "Permission denied")
        real_unlink(path, *args, **kw)

    monkeypatch.setattr(os, "unlink", refuse)
    _, second = _quantize(tiny_checkpoint)
    unusable = [n for n in second.notes if first.cache_key in n]
    assert len(unusable) == 1 and "could not be deleted (Permission denied)" in unusable[0], second.notes
    assert "was deleted" not in " ".join(second.notes) and "it was deleted and rebuilt" not in " ".join(second.notes)
