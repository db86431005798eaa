"""History: rows, sorting, copy as TSV, export that parses back, prompt lists, the latency chart."""

from __future__ import annotations

import csv
import json

import pytest
from PySide6.QtCore import Qt
from PySide6.QtGui import QGuiApplication
from PySide6.QtWidgets import QAbstractItemView

from gpt2q_desktop.app.models.history_model import HEADERS

PROMPTS = ["The cat sat on the", "Once upon a time", "The sky is"]


@pytest.fixture
def ran(make_app, run, tmp_path, trained_checkpoint):
    """A window that ran :data:`PROMPTS` from a prompt list file."""
    app = make_app(trained_checkpoint)
    prompts = tmp_path / "prompts.txt"
    prompts.write_text("\n".join([PROMPTS[0], "", PROMPTS[1], "   ", PROMPTS[2]]) + "\n", encoding="utf-8")
    run(app, lambda: app.run_prompt_file(str(prompts)))
    return app


def test_a_prompt_list_becomes_rows_and_chart_points(ran):
    assert [r.prompt for r in ran.history.rows] == PROMPTS
    assert ran.history.columnCount() == len(HEADERS)
    points = ran.window.history_panel.chart.points
    assert points == [(r.fp32.timing.median_ms, r.int8.timing.median_ms, None, None) for r in ran.history.rows]
    assert ran.window.quantize_panel.job.bar.value() == len(PROMPTS)


def test_export_writes_files_that_parse_back(ran, tmp_path):
    rows = ran.history.rows
    assert ran.history_controller.save_to(str(tmp_path / "h.csv"))
    with (tmp_path / "h.csv").open(encoding="utf-8", newline="") as fh:
        parsed = list(csv.DictReader(fh))
    assert [p["prompt"] for p in parsed] == PROMPTS
    assert [int(p["int8_id"]) for p in parsed] == [r.int8.token_id for r in rows]
    assert [float(p["fp32_prob"]) for p in parsed] == pytest.approx([r.fp32.prob for r in rows])

    assert ran.history_controller.save_to(str(tmp_path / "h.json"))
    data = json.loads((tmp_path / "h.json").read_text(encoding="utf-8"))
    assert [d["prompt"] for d in data] == PROMPTS
    assert [d["fp32"]["token_id"] for d in data] == [r.fp32.token_id for r in rows]

    assert ran.history_controller.save_to(str(tmp_path / "h.md"))
    lines = (tmp_path / "h.md").read_text(encoding="utf-8").splitlines()
    assert lines[0].startswith("| prompt") and len(lines) == 2 + len(PROMPTS)


def test_an_export_that_cannot_be_written_says_so(ran, boxes, tmp_path):
    assert not ran.history_controller.save_to(str(tmp_path / "no-such-folder" / "h.csv"))
    assert boxes and boxes[-1].startswith("Could not write")


def test_export_with_nothing_to_export_says_so(make_app, boxes, tmp_path):
    app = make_app()
    assert not app.history_controller.save_to(str(tmp_path / "h.csv"))
    assert boxes and "Nothing to save" in boxes[-1]
    assert not (tmp_path / "h.csv").exists()


def test_sorting_and_ctrl_c_copy_selected_rows_as_tsv(ran, qtbot):
    panel = ran.window.history_panel
    table = panel.table
    column = HEADERS.index("Prompt")
    table.sortByColumn(column, Qt.SortOrder.AscendingOrder)
    shown = [panel.proxy.index(r, column).data() for r in range(panel.proxy.rowCount())]
    assert shown == sorted(PROMPTS)

    table.setSelectionMode(QAbstractItemView.SelectionMode.MultiSelection)
    table.selectRow(0)
    table.selectRow(1)
    table.setFocus()
    qtbot.keySequence(table, "Ctrl+C")
    lines = QGuiApplication.clipboard().text().splitlines()
    assert lines[0].split("\t") == list(HEADERS)
    assert [line.split("\t")[0] for line in lines[1:]] == [p for p in PROMPTS if p in sorted(PROMPTS)[:2]]


def test_a_prompt_list_can_be_cancelled_between_prompts(make_app, run, tmp_path, tiny_checkpoint):
    app = make_app(tiny_checkpoint)
    run(app, app.quantize)
    prompts = tmp_path / "many.txt"
    prompts.write_text("\n".join(f"Prompt number {i}" for i in range(20)), encoding="utf-8")
    worker = app.runner.worker

    def cancel_after_first(job, row) -> None:  # runs on the worker thread
        app.runner.cancel()

    worker.produced.connect(cancel_after_first, Qt.ConnectionType.DirectConnection)
    run(app, lambda: app.run_prompt_file(str(prompts)))
    worker.produced.disconnect(cancel_after_first)
    assert app.history.rowCount() == 1
    assert "Stopped after 1 of 20" in app.window.quantize_panel.job.step.text()
    assert "Stopped after 1 of 20" in app.window.statusBar().currentMessage(), "the last row's status hid it"


def test_an_unreadable_prompt_list_is_refused(make_app, boxes, tmp_path, tiny_checkpoint):
    app = make_app(tiny_checkpoint)
    blank = tmp_path / "blank.txt"
    blank.write_text("\n  \n", encoding="utf-8")
    app.run_prompt_file(str(blank))
    assert boxes and "holds no prompts" in boxes[-1]
    app.run_prompt_file(str(tmp_path / "missing.txt"))
    assert "does not exist" in boxes[-1]
