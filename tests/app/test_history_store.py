"""The window's history outlives it: rows in the history database, a checkpoint filter, Delete and Clear, two
windows at once, and a database that is corrupt, newer or failing (said once; the window goes on in memory)."""

from __future__ import annotations

import csv
import sqlite3
import subprocess
import sys
from collections.abc import Iterator
from contextlib import contextmanager
from dataclasses import replace
from pathlib import Path

import pytest
from PySide6.QtCore import QItemSelectionModel, Qt
from PySide6.QtGui import QGuiApplication

from gpt2q_desktop.app import stored_history
from gpt2q_desktop.app.models.history_model import HEADERS
from gpt2q_desktop.app.views.history_panel import ALL_CHECKPOINTS
from gpt2q_desktop.core.measure.inference import Timing, TopToken
from gpt2q_desktop.core.results import ComparisonRow, SideResult
from gpt2q_desktop.core.store.history import HistoryError, HistoryStore
from tests.app.stalls import stall_watch


def fake_row(prompt: str, checkpoint: str, ms: float = 2.0) -> ComparisonRow:
    """A row as a comparison would make it (no model runs)."""
    side = SideResult((TopToken(262, " the", 0.5), TopToken(257, " a", 0.2)), Timing(ms, ms * 1.1, ()))
    return ComparisonRow(
        prompt=prompt, tokens=3, note="", fp32=side, int8=replace(side, timing=Timing(ms / 2, ms / 2, ())),
        kl=1e-4, top5_overlap=1.0, threads=1, repeats=2, checkpoint=checkpoint, checkpoint_key="k" + checkpoint,
        recipe="per-channel", time=1_700_000_000.0,
    )  # fmt: skip


def stored_prompts(data_dir: Path) -> list[str]:
    store = HistoryStore(data_dir / "history.sqlite3")
    try:
        return [s.row.prompt for s in store.load()]
    finally:
        store.close()


def shown_prompts(app) -> list[str]:
    proxy = app.window.history_panel.proxy
    return [proxy.index(r, 0).data(Qt.ItemDataRole.ToolTipRole) for r in range(proxy.rowCount())]


def test_a_row_outlives_the_window(make_app, run, data_dir, tiny_checkpoint):
    app = make_app(tiny_checkpoint)
    run(app, lambda: app.run_prompt("Once upon a time"))
    (row,) = app.history.rows
    assert row.checkpoint == "tiny-gpt2"
    app.window.close()

    again = make_app()
    (back,) = again.history.rows
    assert back.prompt == "Once upon a time" and back.checkpoint == "tiny-gpt2"
    assert back.int8.token_id == row.int8.token_id and back.kl == pytest.approx(row.kl)
    assert back.int8.timing.median_ms == pytest.approx(row.int8.timing.median_ms)
    panel = again.window.history_panel
    assert panel.chart.points == [(back.fp32.timing.median_ms, back.int8.timing.median_ms, None, None)]
    assert [panel.checkpoint.itemText(i) for i in range(panel.checkpoint.count())] == [ALL_CHECKPOINTS, "tiny-gpt2"]


def test_the_checkpoint_filter_drives_table_chart_copy_and_export(make_app, data_dir, tmp_path, qtbot):
    app = make_app()
    history = app.history_controller
    for prompt, checkpoint, ms in [("one", "alpha", 2.0), ("two", "beta", 4.0), ("three", "alpha", 6.0)]:
        history.add(fake_row(prompt, checkpoint, ms))
    panel = app.window.history_panel
    assert [panel.checkpoint.itemText(i) for i in range(panel.checkpoint.count())] == [ALL_CHECKPOINTS, "alpha", "beta"]
    assert shown_prompts(app) == ["one", "two", "three"]

    panel.checkpoint.setCurrentIndex(panel.checkpoint.findData("alpha"))  # as the user would
    assert shown_prompts(app) == ["one", "three"]
    assert panel.chart.points == [(2.0, 1.0, None, None), (6.0, 3.0, None, None)]
    assert history.save_to(str(tmp_path / "h.csv"))
    with (tmp_path / "h.csv").open(encoding="utf-8", newline="") as fh:
        assert [r["prompt"] for r in csv.DictReader(fh)] == ["one", "three"]
    panel.table.selectAll()
    panel.table.setFocus()
    qtbot.waitUntil(panel.table.hasFocus)
    qtbot.keySequence(panel.table, "Ctrl+C")
    assert [line.split("\t")[0] for line in QGuiApplication.clipboard().text().splitlines()[1:]] == ["one", "three"]

    history.add(fake_row("four", "gamma"))  # a new row is never hidden: the filter shows all again
    assert panel.current_checkpoint() is None and shown_prompts(app) == ["one", "two", "three", "four"]
    assert panel.checkpoint.findData("gamma") > 0
    assert stored_prompts(data_dir) == ["one", "two", "three", "four"]


def test_delete_key_and_button_remove_selected_rows_from_table_and_database(make_app, data_dir, qtbot):
    app = make_app()
    for prompt in ["one", "two", "three", "four"]:
        app.history_controller.add(fake_row(prompt, "alpha" if prompt != "four" else "beta"))
    panel = app.window.history_panel
    panel.table.selectRow(1)
    panel.table.setFocus()
    qtbot.waitUntil(panel.table.hasFocus)
    qtbot.keyClick(panel.table, Qt.Key.Key_Delete)
    assert shown_prompts(app) == ["one", "three", "four"]
    assert stored_prompts(data_dir) == ["one", "three", "four"]

    panel.table.selectRow(2)
    qtbot.mouseClick(panel.delete_button, Qt.MouseButton.LeftButton)
    assert stored_prompts(data_dir) == ["one", "three"]
    assert panel.checkpoint.findData("beta") < 0, "a checkpoint without rows leaves the filter"

    panel.table.clearSelection()
    qtbot.mouseClick(panel.delete_button, Qt.MouseButton.LeftButton)
    assert "Select history rows" in app.window.statusBar().currentMessage()
    assert app.history.rowCount() == 2


def test_clear_asks_first_and_clears_the_rows_in_view(make_app, data_dir, questions):
    app = make_app()
    for prompt, checkpoint in [("one", "alpha"), ("two", "beta"), ("three", "alpha")]:
        app.history_controller.add(fake_row(prompt, checkpoint))
    panel = app.window.history_panel
    panel.checkpoint.setCurrentIndex(panel.checkpoint.findData("alpha"))

    questions.answers.append(False)
    panel.clear_button.click()
    assert "Delete the 2 history rows of alpha?" in questions.asked[-1]
    assert stored_prompts(data_dir) == ["one", "two", "three"]

    questions.answers.append(True)
    panel.clear_button.click()
    assert stored_prompts(data_dir) == ["two"]
    assert panel.current_checkpoint() is None and shown_prompts(app) == ["two"]

    questions.answers.append(True)
    panel.clear_button.click()
    assert "of all checkpoints" in questions.asked[-1] and len(questions.asked) == 3
    assert stored_prompts(data_dir) == [] and app.history.rowCount() == 0 and panel.chart.points == []


def test_clearing_rows_scattered_among_others_keeps_the_others_in_order(make_app, data_dir, questions):
    app = make_app()
    prompts = [f"prompt {i}" for i in range(60)]
    for i, prompt in enumerate(prompts):
        app.history_controller.add(fake_row(prompt, "alpha" if i % 2 else "beta"))
    panel = app.window.history_panel
    panel.checkpoint.setCurrentIndex(panel.checkpoint.findData("alpha"))
    questions.answers.append(True)
    panel.clear_button.click()
    assert [r.prompt for r in app.history.rows] == prompts[::2] == stored_prompts(data_dir)
    assert shown_prompts(app) == prompts[::2] and len(panel.chart.points) == 30


def test_the_prompt_column_elides_in_the_middle_with_the_whole_prompt_as_tooltip(make_app):
    app = make_app()
    prompt = "A long prompt\nthat goes on " + "and on " * 40 + "to its end"
    app.history_controller.add(fake_row(prompt, "alpha"))
    table = app.window.history_panel.table
    assert table.textElideMode() == Qt.TextElideMode.ElideMiddle and not table.wordWrap()
    index = app.window.history_panel.proxy.index(0, HEADERS.index("Prompt"))
    assert index.data(Qt.ItemDataRole.ToolTipRole) == prompt
    timing = app.window.history_panel.proxy.index(0, HEADERS.index("Timing"))
    assert timing.data() == "clean" and timing.data(Qt.ItemDataRole.ToolTipRole)


def test_two_windows_at_once_keep_each_others_rows(make_app, run, data_dir, tiny_checkpoint):
    first, second = make_app(tiny_checkpoint), make_app(tiny_checkpoint)
    run(first, lambda: first.run_prompt("The cat sat on the"))
    run(second, lambda: second.run_prompt("Once upon a time"))
    assert stored_prompts(data_dir) == ["The cat sat on the", "Once upon a time"]
    panel = first.window.history_panel
    panel.checkpoint.setCurrentIndex(panel.checkpoint.findData("tiny-gpt2"))  # the filter reads the database again
    assert shown_prompts(first) == ["The cat sat on the", "Once upon a time"]


def test_a_corrupt_database_is_set_aside_said_once_and_a_new_one_used(make_app, boxes, data_dir):
    data_dir.mkdir(parents=True, exist_ok=True)
    garbage = b"this is not a database " * 100
    (data_dir / "history.sqlite3").write_bytes(garbage)
    app = make_app()
    (kept,) = data_dir.glob("history.sqlite3.corrupt-*")
    assert kept.read_bytes() == garbage
    said = [text for text in boxes if "history database was unusable" in text]
    assert len(said) == 1 and str(kept) in said[0]
    assert "set aside" in app.window.log_dock.text.toPlainText()
    app.history_controller.add(fake_row("one", "alpha"))
    assert stored_prompts(data_dir) == ["one"] and len(boxes) == 1


def test_a_newer_database_is_left_alone_and_the_window_goes_on_in_memory(make_app, boxes, data_dir):
    data_dir.mkdir(parents=True, exist_ok=True)
    db = sqlite3.connect(data_dir / "history.sqlite3")
    db.execute("PRAGMA user_version = 99")
    db.close()
    app = make_app()
    assert len(boxes) == 1 and "newer" in boxes[0] and stored_history.MEMORY_ONLY in boxes[0]
    assert "newer" in app.window.log_dock.text.toPlainText()
    for prompt in ["one", "two"]:
        app.history_controller.add(fake_row(prompt, "alpha"))
    app.window.history_panel.checkpoint.setCurrentIndex(1)  # no database to read again: the rows in memory stay
    assert shown_prompts(app) == ["one", "two"] and len(boxes) == 1
    db = sqlite3.connect(data_dir / "history.sqlite3")
    assert db.execute("PRAGMA user_version").fetchone()[0] == 99
    db.close()
    assert not list(data_dir.glob("history.sqlite3.corrupt-*"))


def test_a_locked_database_is_said_once(make_app, boxes, monkeypatch):
    def locked(*args, **kwargs):
        raise HistoryError("The history database is locked by another program.")

    monkeypatch.setattr(stored_history, "HistoryStore", locked)
    app = make_app()
    assert boxes == [f"The history database is locked by another program. {stored_history.MEMORY_ONLY}"]
    app.history_controller.add(fake_row("one", "alpha"))
    assert app.history.rowCount() == 1 and len(boxes) == 1


def test_a_failed_write_is_said_once_and_later_rows_stay_in_memory(
    make_app, run, boxes, monkeypatch, data_dir, tiny_checkpoint
):
    app = make_app(tiny_checkpoint)

    def failing(self, rows):
        raise HistoryError("Could not save to the history database (disk full).")

    monkeypatch.setattr(HistoryStore, "add", failing)
    run(app, lambda: app.run_prompt("Once upon a time"))
    run(app, lambda: app.run_prompt("The sky is"))
    assert [b for b in boxes if "disk full" in b] == [boxes[-1]] and stored_history.MEMORY_ONLY in boxes[-1]
    assert [r.prompt for r in app.history.rows] == ["Once upon a time", "The sky is"]
    assert stored_prompts(data_dir) == []


LOCKER = """
import sqlite3, sys
db = sqlite3.connect(sys.argv[1], isolation_level=None, timeout=30)
if sys.argv[2] == "locking_mode":  # the whole file, reads too, until the connection closes
    db.execute("PRAGMA locking_mode=EXCLUSIVE")
    db.execute("BEGIN IMMEDIATE")
    db.execute("UPDATE rows SET noisy = noisy")  # a write: the lock is kept
    db.execute("COMMIT")
else:
    db.execute("BEGIN EXCLUSIVE")
print("locked", flush=True)
sys.stdin.readline()
db.close()  # an open transaction is rolled back
"""


@contextmanager
def locked(path: Path, how: str) -> Iterator[None]:
    """Another process holds the history database *path* (``BEGIN EXCLUSIVE``, or ``locking_mode``:
    ``PRAGMA locking_mode=EXCLUSIVE`` after a write) until the body ends."""
    locker = subprocess.Popen(
        [sys.executable, "-c", LOCKER, str(path), how], stdin=subprocess.PIPE, stdout=subprocess.PIPE, text=True
    )
    try:
        assert locker.stdout.readline().strip() == "locked"
        yield
    finally:
        locker.stdin.write("\n")
        locker.stdin.flush()
        assert locker.wait(timeout=30) == 0


@pytest.fixture
def quick_retries(monkeypatch: pytest.MonkeyPatch) -> int:
    """The windows made after this try a locked database again every 200 ms, not every second: the same retries,
    more of them in each watched moment, and no test holding the machine alone while it waits a second for one."""
    from gpt2q_desktop.app.controllers import history_controller

    monkeypatch.setattr(history_controller, "RETRY_MS", 200)
    return 200


@pytest.mark.timing
def test_rows_added_while_another_process_locks_the_database_are_saved_once_it_is_free(
    make_app, run, qtbot, data_dir, tiny_checkpoint, quick_retries
):
    app = make_app(tiny_checkpoint)
    with locked(data_dir / "history.sqlite3", "exclusive"):
        with stall_watch() as ticks:
            run(app, lambda: app.run_prompt("Once upon a time"))  # its row is added on the GUI thread
            app.history_controller.add(fake_row("two", "alpha"))
            qtbot.wait(300)
        print(f"longest gap {max(ticks.gaps) * 1000:.0f} ms, {len(ticks.stalls)} stalls")
        assert ticks.responsive(), ticks.describe("adding rows to a locked history database")
        assert [r.prompt for r in app.history.rows] == ["Once upon a time", "two"]
        waiting = app.window.history_panel.waiting
        assert waiting.isVisible() and "waiting for the database" in waiting.text()
        assert stored_prompts(data_dir) == []  # nothing written yet (WAL: this lock lets readers in)
    # the database orders rows by their time: the fake row's is of 2023
    qtbot.waitUntil(lambda: stored_prompts(data_dir) == ["two", "Once upon a time"], timeout=15_000)
    assert not waiting.isVisible() and len(app.history.ids(range(2))) == 2  # ids from the database
    assert "saved" in app.window.statusBar().currentMessage()


@pytest.mark.timing
def test_the_window_starts_at_once_while_another_process_holds_the_database(
    make_app, qtbot, boxes, data_dir, quick_retries
):
    store = HistoryStore(data_dir / "history.sqlite3")
    store.add([fake_row("before", "alpha")])
    store.close()
    with locked(data_dir / "history.sqlite3", "locking_mode"):
        with stall_watch() as ticks:
            app = make_app()
            qtbot.wait(300)
        print(f"longest gap {max(ticks.gaps) * 1000:.0f} ms, {len(ticks.stalls)} stalls")
        assert ticks.responsive(), ticks.describe("starting with a locked history database")
        waiting = app.window.history_panel.waiting
        assert waiting.isVisible() and "waiting for the database" in waiting.text()
        with stall_watch() as ticks:
            app.history_controller.add(fake_row("during", "alpha"))
            qtbot.wait(3 * quick_retries)  # two retries or more, still locked
        assert ticks.responsive(), ticks.describe("adding a row while the database is still locked")
        assert [r.prompt for r in app.history.rows] == ["during"]
    qtbot.waitUntil(lambda: [r.prompt for r in app.history.rows] == ["before", "during"], timeout=15_000)
    assert stored_prompts(data_dir) == ["before", "during"] and not waiting.isVisible()
    assert boxes == []  # waiting is no failure


def test_rows_deleted_while_the_database_is_locked_stay_deleted(make_app, qtbot, data_dir):
    app = make_app()
    for prompt in ["one", "two"]:
        app.history_controller.add(fake_row(prompt, "alpha"))
    panel = app.window.history_panel
    with locked(data_dir / "history.sqlite3", "exclusive"):
        for prompt in ["three", "four"]:
            app.history_controller.add(fake_row(prompt, "alpha"))
        assert panel.waiting.isVisible()
        panel.table.selectRow(0)  # "one", in the database
        also = QItemSelectionModel.SelectionFlag.Select | QItemSelectionModel.SelectionFlag.Rows
        panel.table.selectionModel().select(panel.proxy.index(2, 0), also)  # "three", waiting to be written
        app.history_controller.delete_selection()
        assert shown_prompts(app) == ["two", "four"]
    qtbot.waitUntil(lambda: not panel.waiting.isVisible(), timeout=15_000)
    assert stored_prompts(data_dir) == ["two", "four"] == shown_prompts(app)
