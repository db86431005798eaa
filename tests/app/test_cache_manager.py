"""The cache manager names each entry's runtime and what it holds, read through the same CacheEntry as
``gpt2q cache list``: an ONNX Runtime FP32 graph is not shown as an INT8 recipe."""

from __future__ import annotations

import json
import shutil
from pathlib import Path

from gpt2q_desktop.app.models.cache_model import HEADERS, CacheModel
from gpt2q_desktop.cli.main import main
from gpt2q_desktop.core.store.model_cache import QuantCache
from tests.platform_marks import make_symlink


def _column(model: CacheModel, header: str) -> list[str]:
    return [model.index(row, HEADERS.index(header)).data() for row in range(model.rowCount())]


def test_onnx_runtime_fp32_and_int8_entries_show_their_runtime_and_graph(onnx_cache: Path, capsys) -> None:
    entries = QuantCache().entries()
    model = CacheModel()
    model.set_entries(entries)
    shown = sorted(zip(_column(model, "Source"), _column(model, "Runtime"), _column(model, "Holds")))
    int8 = "INT8: per-tensor, lm_head INT8, embeddings INT8"
    assert shown == [
        ("trained-gpt2", "ONNX Runtime", "FP32 graph"), ("trained-gpt2", "ONNX Runtime", int8)
    ]
    assert main(["cache", "list"]) == 0
    listed = capsys.readouterr().out
    for entry in entries:  # the CLI says the same words of the same entry
        assert f"{entry.key}" in listed and entry.describe() in listed
    assert main(["cache", "list", "--json"]) == 0
    rows = json.loads(capsys.readouterr().out)["entries"]
    assert sorted((r["runtime"], r["graph"]) for r in rows) == [("onnxruntime", "fp32"), ("onnxruntime", "int8")]


def test_an_unusable_entry_says_why_instead_of_a_runtime(onnx_cache: Path) -> None:
    entry = QuantCache().entries()[0]
    (entry.path / "manifest.json").write_text("{}")
    model = CacheModel()
    model.set_entries(QuantCache().entries())
    row = _column(model, "Key").index(entry.key)
    assert model.index(row, HEADERS.index("Runtime")).data() == "?"
    assert model.index(row, HEADERS.index("Holds")).data().startswith("unusable: ")
    shutil.rmtree(entry.path)


def test_a_linked_entry_is_shown_as_a_link_and_deleting_it_removes_the_link_only(onnx_cache: Path, tmp_path: Path) -> None:
    import os

    from gpt2q_desktop.app.controllers.cache_controller import CacheController

    entry = QuantCache().entries()[0]
    target = Path(shutil.move(str(entry.path), str(tmp_path / "moved")))
    make_symlink(target, entry.path)
    controller = CacheController(None)
    controller.refresh()
    model = controller.model
    row = _column(model, "Key").index(entry.key)
    assert model.index(row, HEADERS.index("Source")).data() == "(symbolic link)"
    assert "symbolic link" in model.index(row, HEADERS.index("Holds")).data()
    controller.dialog.selected_rows = lambda: [row]  # type: ignore[method-assign]
    controller.delete_selected()
    assert not os.path.lexists(entry.path) and sorted(p.name for p in target.iterdir()) == ["manifest.json", "model.onnx"]
    assert entry.key not in _column(controller.model, "Key") and controller.model.rowCount() == 1


def test_an_entry_windows_will_not_delete_stays_listed_whole_and_the_dialog_says_which_file(
    tiny_checkpoint: Path, monkeypatch
) -> None:  # fmt: skip
    """The window's cache manager on Windows, where another gpt2q has the entry's weights open: the entry is not
    half deleted, it stays listed, and the dialog says which file is in use."""
    import os

    from gpt2q_desktop.app.controllers.cache_controller import CacheController
    from tests.core.test_windows_files import _cached, in_use

    _, report = _cached(tiny_checkpoint)
    real_unlink = os.unlink

    def unlink(path, *args, **kwargs) -> None:
        if Path(str(path)).name == "weights.safetensors":
            raise in_use(str(path))
        real_unlink(path, *args, **kwargs)

    monkeypatch.setattr(os, "unlink", unlink)
    controller = CacheController(None)
    controller.refresh()
    controller.dialog.selected_rows = lambda: [0]  # type: ignore[method-assign]
    controller.delete_selected()
    assert _column(controller.model, "Key") == [report.cache_key] and QuantCache().payload(report.cache_key)
    assert "weights.safetensors is in use by another program" in controller.dialog.summary.text()
