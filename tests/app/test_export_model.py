"""File → Export INT8 model…: a folder that runs without gpt2q, written on the worker thread; a folder that is not
empty is written into only after asking, and a refusal comes as a message like any other job's."""

from __future__ import annotations

import json
from pathlib import Path

import pytest
from PySide6.QtWidgets import QFileDialog

from gpt2q_desktop.app.jobs import ExportJob

WRITTEN = ["README.md", "config.json", "generate.py", "model.onnx", "tokenizer.json"]


def _choose(monkeypatch: pytest.MonkeyPatch, folder: Path) -> None:
    monkeypatch.setattr(QFileDialog, "getExistingDirectory", lambda *args, **kwargs: str(folder))


def test_the_menu_writes_the_model_folder_and_says_where(
    make_app, run, monkeypatch, questions, boxes, tmp_path, trained_checkpoint, onnx_cache
):
    out = tmp_path / "takeaway"
    out.mkdir()
    _choose(monkeypatch, out)
    app = make_app(trained_checkpoint)
    window = app.window
    assert window.act_export_model.isEnabled() and window.act_export_model.shortcut().toString() == "Ctrl+Shift+E"
    assert window.act_export_model in window.menuBar().actions()[0].menu().actions()
    jobs: list = []
    app.runner.worker.started.connect(jobs.append)
    run(app, window.act_export_model.trigger)

    assert not questions.asked and not boxes  # an empty folder: nothing to ask
    assert [(job.out, job.overwrite) for job in jobs if isinstance(job, ExportJob)] == [(str(out), False)]
    assert sorted(p.name for p in out.iterdir()) == WRITTEN
    assert json.loads((out / "config.json").read_text())["n_layer"] == 2
    assert str(out) in window.quantize_panel.job.step.text() and str(out) in window.statusBar().currentMessage()
    assert window.quantize_panel.result.text() == "Not quantized yet.", "PyTorch is chosen: its report is shown"


def test_a_folder_that_is_not_empty_is_written_into_only_after_asking(
    make_app, run, monkeypatch, questions, tmp_path, trained_checkpoint, onnx_cache
):
    out = tmp_path / "notes"
    out.mkdir()
    (out / "notes.txt").write_text("mine", encoding="utf-8")
    _choose(monkeypatch, out)
    app = make_app(trained_checkpoint)

    questions.answers.append(False)
    app.window.act_export_model.trigger()
    assert len(questions.asked) == 1 and str(out) in questions.asked[0] and "not empty" in questions.asked[0]
    assert not app.busy and [p.name for p in out.iterdir()] == ["notes.txt"]
    assert "nothing was written" in app.window.statusBar().currentMessage()

    questions.answers.append(True)
    run(app, app.window.act_export_model.trigger)
    assert len(questions.asked) == 2
    assert sorted(p.name for p in out.iterdir()) == sorted([*WRITTEN, "notes.txt"])
    assert (out / "notes.txt").read_text(encoding="utf-8") == "mine"


def test_a_refused_export_is_shown_and_the_app_keeps_working(make_app, run, boxes, tmp_path, tiny_checkpoint):
    app = make_app(tiny_checkpoint)
    a_file = tmp_path / "a-file"
    a_file.write_text("x", encoding="utf-8")
    run(app, lambda: app.export_controller.export_to(str(a_file)))
    assert boxes and "is a file" in boxes[-1] and "Traceback" not in boxes[-1]
    run(app, lambda: app.run_prompt("Hello"))
    assert app.history.rowCount() == 1


def test_an_export_into_the_data_folder_is_refused_with_a_message(make_app, run, boxes, data_dir, tiny_checkpoint):
    app = make_app(tiny_checkpoint)
    out = data_dir / "cache" / "my-export"
    run(app, lambda: app.export_controller.export_to(str(out)))
    assert boxes and "inside gpt2q's data folder" in boxes[-1] and "Traceback" not in boxes[-1]
    assert not out.exists()
    assert app.window.quantize_panel.result.text() == "Not quantized yet.", "nothing was built"
