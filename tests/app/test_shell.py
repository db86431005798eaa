"""Everything around the main flow: remembered state, sources, drop, cache manager, About, log, launch."""

from __future__ import annotations

import json
import logging
import os
import subprocess
import sys
from pathlib import Path

from PySide6.QtCore import QMimeData, QPointF, Qt, QUrl
from PySide6.QtGui import QDropEvent

from gpt2q_desktop.app.views.about import versions
from gpt2q_desktop.core.checkpoints.sources import find_hf_gpt2
from gpt2q_desktop.core.options import RecipeOptions
from gpt2q_desktop.core.store.model_cache import QuantCache

ROOT = Path(__file__).resolve().parents[2]


def test_state_is_remembered_between_launches(make_app, tiny_checkpoint):
    first = make_app(tiny_checkpoint)
    first.window.quantize_panel.per_channel.setChecked(True)
    first.window.quantize_panel.keep_lm_head.setChecked(True)
    first.window.compare_panel.repeats.setValue(7)
    # Qt fits a restored window into the screen (800 × 800 offscreen): keep the narrowest width, vary the height
    first.window.resize(first.window.minimumSizeHint().width(), 700)
    size = first.window.size()
    first.window.close()

    second = make_app(restore=True)
    assert "tiny-gpt2" in second.window.windowTitle()
    assert second.window.quantize_panel.options() == RecipeOptions(
        per_channel=True, keep_lm_head=True, quantize_embeddings=True, exclude_layers=()
    )
    assert second.settings.run.repeats == 7
    assert second.settings.recent == [str(tiny_checkpoint)]
    assert second.window.size() == size


def test_without_a_demo_student_the_window_says_what_to_do(make_app, tmp_path, monkeypatch):
    monkeypatch.setenv("GPT2Q_RESOURCES", str(tmp_path / "no-resources"))
    app = make_app(restore=True)
    message = app.window.checkpoint_panel.message.text()
    assert "demo student is not installed" in message and "Open a checkpoint folder" in message
    assert app.window.windowTitle() == "gpt2q desktop"
    assert not app.window.compare_panel.run_button.isEnabled()
    assert app.window.checkpoint_panel.open_button.isEnabled()


def _fake_hf_cache(root: Path, repo: str, model_type: str) -> Path:
    snapshot = root / f"models--{repo.replace('/', '--')}" / "snapshots" / "0123456789abcdef"
    snapshot.mkdir(parents=True)
    (snapshot / "config.json").write_text(json.dumps({"model_type": model_type}))
    return snapshot


def test_gpt2_models_in_the_hugging_face_cache_are_listed(make_app, qtbot, tmp_path, monkeypatch):
    hub = tmp_path / "hf" / "hub"
    gpt2 = _fake_hf_cache(hub, "someone/tiny-gpt2", "gpt2")
    _fake_hf_cache(hub, "someone/bert", "bert")
    assert [(m.repo, m.path) for m in find_hf_gpt2([hub])] == [("someone/tiny-gpt2", gpt2)]

    monkeypatch.setenv("HF_HOME", str(tmp_path / "hf"))
    app = make_app()
    combo = app.window.checkpoint_panel.sources
    label = "Hugging Face cache: someone/tiny-gpt2 (01234567)"
    qtbot.waitUntil(lambda: combo.findText(label) >= 0, timeout=10_000)  # the scan runs in the background
    assert combo.itemData(combo.findText(label)) == str(gpt2)


def test_a_folder_dropped_on_the_window_is_opened(make_app, run, tiny_checkpoint):
    app = make_app()
    mime = QMimeData()
    mime.setUrls([QUrl.fromLocalFile(str(tiny_checkpoint))])
    event = QDropEvent(
        QPointF(20, 20), Qt.DropAction.CopyAction, mime, Qt.MouseButton.LeftButton, Qt.KeyboardModifier.NoModifier
    )
    run(app, lambda: app.window.dropEvent(event))
    assert "tiny-gpt2" in app.window.windowTitle()


def test_the_cache_manager_lists_and_deletes_entries(make_app, run, monkeypatch, data_dir, tiny_checkpoint):
    import gpt2q_desktop.app.controllers.cache_controller as cache_controller
    from gpt2q_desktop.core.torch_int8.kernels import chosen_kernels

    opened: list[str] = []
    monkeypatch.setattr(cache_controller.QDesktopServices, "openUrl", lambda url: opened.append(url.toLocalFile()))
    app = make_app(tiny_checkpoint)
    run(app, app.quantize)
    app.window.act_cache.trigger()
    cache = app._cache
    assert cache is not None and cache.dialog.isVisible()
    assert cache.model.rowCount() == 1
    assert cache.model.index(0, 0).data() == "tiny-gpt2"
    assert cache.model.index(0, 1).data() == f"PyTorch ({chosen_kernels()})"
    assert cache.model.index(0, 2).data().startswith("INT8: per-tensor")
    assert cache.dialog.summary.text().startswith("1 entry, ")
    cache.dialog.table.selectRow(0)
    cache.dialog.delete_button.click()
    assert cache.model.rowCount() == 0
    assert QuantCache().entries() == []
    cache.dialog.folder_button.click()
    app.window.act_data_folder.trigger()
    assert opened == [str(data_dir), str(data_dir)]


def test_about_names_the_versions_and_the_log_pane_shows_details(make_app, boxes, tmp_path):
    assert set(versions()) == {"gpt2q desktop", "torch", "transformers", "onnxruntime", "Qt", "PySide6"}
    assert versions()["torch"].startswith("2.")
    app = make_app()
    logging.getLogger("gpt2q").setLevel(logging.DEBUG)
    app.checkpoints.open_checkpoint(str(tmp_path / "nowhere"))
    app.window.act_log.trigger()
    assert app.window.log_dock.isVisible()
    assert "WARNING Not opened: " in app.window.log_dock.text.toPlainText()


def test_the_window_and_the_about_box_show_the_app_icon(make_app):
    from gpt2q_desktop.app.views.about import about_box

    window = make_app().window
    assert {s.width() for s in window.windowIcon().availableSizes()} >= {16, 32, 48, 256}
    box = about_box(window)
    assert not box.iconPixmap().isNull() and box.iconPixmap().width() == 64
    box.close()


def test_shortcuts_are_bound(make_app):
    window = make_app().window
    keys = {a.text(): [s.toString() for s in a.shortcuts()] for a in window.findChildren(type(window.act_open))}
    assert "Ctrl+O" in keys["&Open folder…"]
    assert keys["&Quantize"] == ["Ctrl+K"]
    assert keys["&Run prompt"] == ["Ctrl+R", "F5"]
    assert keys["&Save history as…"] == ["Ctrl+E"]
    assert "Ctrl+Q" in keys["&Quit"]


def _env(tmp_path: Path) -> dict[str, str]:
    env = dict(os.environ)
    env.update(
        QT_QPA_PLATFORM="offscreen",
        GPT2Q_DATA_DIR=str(tmp_path / "data"),
        GPT2Q_SETTINGS_FILE=str(tmp_path / "settings.ini"),
        GPT2Q_RESOURCES=str(tmp_path / "no-resources"),
    )
    return env


def test_the_window_paints_before_torch_is_imported(tmp_path):
    code = (
        "import sys\n"
        "from PySide6.QtWidgets import QApplication\n"
        "from gpt2q_desktop.app.main import build\n"
        "app = QApplication([])\n"
        "controller = build()\n"
        "controller.window.show()\n"
        "app.processEvents()\n"
        "controller.start()\n"
        "heavy = [m for m in ('torch', 'transformers') if m in sys.modules]\n"
        "controller.window.close()\n"
        "print('heavy:', heavy)\n"
    )
    out = subprocess.run(
        [sys.executable, "-c", code], cwd=ROOT, env=_env(tmp_path), capture_output=True, text=True, timeout=120
    )
    assert out.returncode == 0, out.stderr
    assert "heavy: []" in out.stdout


def test_the_app_starts_on_a_checkpoint_and_quits_cleanly(tmp_path, tiny_checkpoint):
    env = _env(tmp_path) | {"GPT2Q_QUIT_AFTER_MS": "3000"}
    out = subprocess.run(
        [sys.executable, "-m", "gpt2q_desktop.app", str(tiny_checkpoint)],
        cwd=ROOT, env=env, capture_output=True, text=True, timeout=180,
    )  # fmt: skip
    assert out.returncode == 0, out.stderr
    assert "Traceback" not in out.stderr
    assert "geometry" in (tmp_path / "settings.ini").read_text()
