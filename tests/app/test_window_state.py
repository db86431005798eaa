"""The window never shows state it does not hold, long messages stay on screen, and an odd Hugging Face
cache never keeps the window from appearing."""

from __future__ import annotations

import json
import logging
import shutil
import threading
from pathlib import Path

from gpt2q_desktop.app.views.main_window import APP_TITLE, message_box
from gpt2q_desktop.core.checkpoints.sources import find_hf_gpt2
from gpt2q_desktop.core.options import RecipeOptions
from gpt2q_desktop.core.runtimes import Runtime
from tests.platform_marks import make_fifo


def test_a_folder_refused_at_once_leaves_the_open_checkpoint_in_place(make_app, run, boxes, tmp_path, tiny_checkpoint):
    app = make_app(tiny_checkpoint)
    fields = app.window.checkpoint_panel.fields
    (tmp_path / "bert").mkdir()
    (tmp_path / "bert" / "config.json").write_text(json.dumps({"model_type": "bert"}))
    assert not app.checkpoints.open_checkpoint(str(tmp_path / "bert"))
    assert boxes and "bert" in boxes[-1]
    assert app.info is not None and app.info.name == "tiny-gpt2" == fields["Name"].text()
    assert "tiny-gpt2" in app.window.windowTitle()
    run(app, lambda: app.run_prompt("Hello"))  # runs on the checkpoint the panel shows
    assert app.history.rowCount() == 1


def test_a_folder_that_fails_to_load_leaves_no_checkpoint_shown(make_app, run, boxes, tmp_path, tiny_checkpoint):
    broken = tmp_path / "broken"
    shutil.copytree(tiny_checkpoint, broken)
    (broken / "model.safetensors").unlink()
    (broken / "pytorch_model.bin").write_bytes(b"\x80\x02 not a state dict")  # no header to check up front
    app = make_app(tiny_checkpoint)
    run(app, lambda: app.checkpoints.open_checkpoint(str(broken)))
    assert boxes and "pytorch_model.bin" in boxes[-1]
    panel = app.window.checkpoint_panel
    assert app.info is None and app.window.windowTitle() == APP_TITLE
    assert all(label.text() == "–" for label in panel.fields.values()), "the refused folder's facts stay shown"
    assert panel.message.text().startswith("Not loaded:")
    boxes.clear()
    app.run_prompt("Hello")  # nothing runs silently on the previous model
    assert boxes == ["Open a checkpoint folder first (Ctrl+O)."] and app.history.rowCount() == 0


def test_a_long_message_keeps_the_box_on_screen_with_the_whole_text_in_the_details(qtbot):
    text = "The weights do not fit config.json: " + "; ".join(f"transformer.h.{i}.attn.c_attn.weight" for i in range(200))
    box = message_box(None, "gpt2q desktop", text)
    qtbot.addWidget(box)
    assert box.detailedText() == text
    assert len(box.text()) < 500 and box.text().startswith("The weights do not fit config.json:")
    assert box.sizeHint().height() < 400
    short = message_box(None, "gpt2q desktop", "Open a checkpoint folder first (Ctrl+O).")
    qtbot.addWidget(short)
    assert short.text() == "Open a checkpoint folder first (Ctrl+O)." and short.detailedText() == ""


def _snapshot(hub: Path, repo: str) -> Path:
    snapshot = hub / f"models--{repo.replace('/', '--')}" / "snapshots" / "0123456789abcdef"
    snapshot.mkdir(parents=True)
    return snapshot


def test_a_fifo_in_the_hugging_face_cache_never_blocks_the_scan(tmp_path):
    hub = tmp_path / "hf" / "hub"
    make_fifo(_snapshot(hub, "someone/stuck") / "config.json")
    good = _snapshot(hub, "someone/tiny-gpt2")
    (good / "config.json").write_text(json.dumps({"model_type": "gpt2"}))
    found: list = []
    scan = threading.Thread(target=lambda: found.extend(find_hf_gpt2([hub])), daemon=True)
    scan.start()
    scan.join(timeout=10)
    assert not scan.is_alive(), "the scan blocked on the FIFO"
    assert [m.repo for m in found] == ["someone/tiny-gpt2"]


def test_the_window_appears_while_the_hugging_face_cache_is_scanned(make_app, qtbot, tmp_path, monkeypatch):
    import gpt2q_desktop.app.source_scan as source_scan

    release = threading.Event()
    real = source_scan.find_hf_gpt2

    def slow_scan(**kwargs):  # a stuck network file system, as the scan thread sees it
        release.wait(timeout=30)
        return real(**kwargs)

    monkeypatch.setattr(source_scan, "find_hf_gpt2", slow_scan)
    hub = tmp_path / "hf" / "hub"
    (_snapshot(hub, "someone/tiny-gpt2") / "config.json").write_text(json.dumps({"model_type": "gpt2"}))
    monkeypatch.setenv("HF_HOME", str(tmp_path / "hf"))
    app = make_app()  # returns while the scan is still stuck
    combo = app.window.checkpoint_panel.sources
    assert app.window.isVisible() and combo.findText("Hugging Face cache: someone/tiny-gpt2 (01234567)") < 0
    release.set()
    qtbot.waitUntil(lambda: combo.findText("Hugging Face cache: someone/tiny-gpt2 (01234567)") >= 0, timeout=10_000)


def test_a_stale_answer_about_an_earlier_open_never_replaces_the_later_one(
    make_app, run, boxes, tmp_path, tiny_checkpoint, trained_checkpoint
):
    broken = tmp_path / "broken"
    shutil.copytree(tiny_checkpoint, broken)
    (broken / "model.safetensors").unlink()
    (broken / "pytorch_model.bin").write_bytes(b"\x80\x02 not a state dict")
    app = make_app()

    def open_both() -> None:  # the second is asked for while the first still loads
        assert app.checkpoints.open_checkpoint(str(broken))
        assert app.checkpoints.open_checkpoint(str(trained_checkpoint))

    run(app, open_both)
    assert boxes and "pytorch_model.bin" in boxes[-1]  # the first one's failure is still reported
    assert app.info is not None and app.info.name == "trained-gpt2"
    assert app.window.checkpoint_panel.fields["Name"].text() == "trained-gpt2"
    assert "trained-gpt2" in app.window.windowTitle() and app.window.quantize_panel.quantize_button.isEnabled()
    run(app, lambda: app.run_prompt("The cat sat on the"))
    assert app.history.rowCount() == 1


def test_a_remembered_setting_out_of_range_falls_back_to_the_default(make_app, settings_file, tiny_checkpoint):
    settings_file.parent.mkdir(parents=True, exist_ok=True)
    settings_file.write_text("[run]\nrepeats=0\nthreads=2\n")
    app = make_app(tiny_checkpoint, restore=True)  # the window starts at all
    assert app.settings.run.repeats == 20


def test_fp32_blocks_of_one_checkpoint_are_reset_when_another_opens(make_app, run, tiny_checkpoint, trained_checkpoint) -> None:
    from gpt2q_desktop.core.options import RecipeOptions

    app = make_app(tiny_checkpoint)
    panel = app.window.quantize_panel
    panel.set_options(RecipeOptions(exclude_layers=(0,)))
    run(app, lambda: app.checkpoints.open_checkpoint(str(tiny_checkpoint)))  # the same one again: kept
    assert panel.options().exclude_layers == (0,)
    run(app, lambda: app.checkpoints.open_checkpoint(str(trained_checkpoint)))
    assert panel.options().exclude_layers == ()
    assert f"FP32 blocks 0 belonged to {tiny_checkpoint.name}: reset to none for {trained_checkpoint.name}." in panel.result.text()


def test_settings_follow_the_config_or_data_dir_override(monkeypatch, tmp_path) -> None:
    from gpt2q_desktop.app.settings import settings_file

    monkeypatch.delenv("GPT2Q_SETTINGS_FILE")
    monkeypatch.setenv("GPT2Q_DATA_DIR", str(tmp_path / "data"))
    assert settings_file() == str(tmp_path / "data" / "gpt2q-desktop.ini")
    monkeypatch.setenv("GPT2Q_CONFIG_DIR", str(tmp_path / "config"))
    assert settings_file() == str(tmp_path / "config" / "gpt2q-desktop.ini")
    monkeypatch.delenv("GPT2Q_CONFIG_DIR")
    monkeypatch.delenv("GPT2Q_DATA_DIR")
    assert settings_file() is None


def test_two_windows_keep_each_others_changes(make_app, tiny_checkpoint, caplog):
    first, second = make_app(tiny_checkpoint), make_app(tiny_checkpoint)
    first.window.quantize_panel.set_options(RecipeOptions(exclude_layers=(1,)))
    first.window.quantize_panel.set_runtime_choice(Runtime.ONNXRUNTIME)
    second.window.quantize_panel.per_channel.setChecked(True)
    with caplog.at_level(logging.INFO, logger="gpt2q"):
        second.window.close()  # saves per-channel: the first window's blocks and runtime are not its business
        first.window.close()  # saves the blocks and the runtime, and leaves the second's per-channel alone
    third = make_app(restore=True)
    assert third.window.quantize_panel.options() == RecipeOptions(per_channel=True, exclude_layers=(1,))
    assert third.settings.runtime == Runtime.ONNXRUNTIME
    assert not [r for r in caplog.records if "another window" in r.getMessage()]
    fourth = make_app(restore=True)
    third.window.quantize_panel.set_options(RecipeOptions(exclude_layers=(0,)))
    fourth.window.quantize_panel.set_options(RecipeOptions(exclude_layers=(0, 1)))
    with caplog.at_level(logging.INFO, logger="gpt2q"):
        third.window.close()
        fourth.window.close()
    last = make_app(restore=True).window.quantize_panel.options()
    assert last.exclude_layers == (0, 1), "both changed it: the last closed window's value"
    assert any("recipe/exclude_layers was changed in another window too" in r.getMessage() for r in caplog.records)


HOSTILE_SETTINGS = """\
[run]
top_k=2147483648
threads=99999999999
repeats=10001
warmup=abc
runtime=a, b
[checkpoint]
last=a, b
tokenizer=@ByteArray(xyz)
recent=@Variant(\\0\\0\\0\\x7f\\0\\0\\0\\x3QFoo)
[recipe]
per_channel=maybe
keep_lm_head=true
exclude_layers=1, 99999999999999999999999
[window]
geometry=hello
splitters=@Rect(1 2 3 4)
[junk]
key=value
[General]
zzz=1
"""
"""Values past the 32-bit limit or the spin boxes' ranges, lists where a string belongs, wrong types; keys
nothing reads. Only ``recipe/keep_lm_head`` is valid."""
BAD_KEYS = (
    "run/top_k", "run/threads", "run/repeats", "run/warmup", "run/runtime", "checkpoint/last", "checkpoint/tokenizer",
    "checkpoint/recent", "recipe/per_channel", "recipe/exclude_layers", "window/geometry", "window/splitters",
)  # fmt: skip


def test_a_hostile_settings_file_is_read_as_untrusted_input(make_app, settings_file, caplog, monkeypatch):
    from gpt2q_desktop.app.controllers import main_controller
    from gpt2q_desktop.core.options import RunSettings

    monkeypatch.setattr(main_controller, "demo_available", lambda: False)  # the last checkpoint is unusable
    settings_file.parent.mkdir(parents=True, exist_ok=True)
    settings_file.write_text(HOSTILE_SETTINGS)
    with caplog.at_level(logging.WARNING, logger="gpt2q"):
        app = make_app(restore=True)  # starts at all, and starts normally
        app.window.compare_panel.set_settings(app.settings.run)  # read again: not logged again
        assert app.settings.last_checkpoint is None and app.settings.recent == []
    assert app.info is None and app.window.isVisible()
    assert app.settings.run == RunSettings()  # every one of them reset to the default
    assert app.settings.runtime == Runtime.TORCH and app.settings.last_tokenizer is None
    assert app.settings.options == RecipeOptions(keep_lm_head=True)  # the valid one is kept
    assert app.settings.geometry is None and app.settings.splitters == []
    warnings = [r.getMessage() for r in caplog.records if r.levelno == logging.WARNING]
    for key in BAD_KEYS + ("junk/key", "zzz"):
        assert sum(key in w for w in warnings) == 1, (key, warnings)  # one line each, naming the key
    app.window.close()
    written = settings_file.read_text()
    for bad in ("2147483648", "99999999999", "10001", "abc", "a, b", "xyz", "maybe", "hello", "Rect", "junk", "zzz"):
        assert bad not in written, f"{bad!r} was written back:\n{written}"
    again = make_app(restore=True)
    assert again.settings.options == RecipeOptions(keep_lm_head=True) and again.settings.run == RunSettings()
