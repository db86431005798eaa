"""The history's behaviour: rows kept in the history database across sessions, a checkpoint filter, delete and
clear, save as CSV, JSON or Markdown through ``core.measure.render``, copy rows as TSV, the latency chart kept current."""

from __future__ import annotations

import logging
from collections.abc import Sequence
from pathlib import Path
from typing import TYPE_CHECKING

from PySide6.QtCore import QObject, QTimer
from PySide6.QtGui import QGuiApplication
from PySide6.QtWidgets import QFileDialog

from gpt2q_desktop.core.logs import LOGGER
from gpt2q_desktop.core.measure.render import render
from gpt2q_desktop.core.text import counted

from ..models.history_model import HistoryModel
from ..stored_history import StoredHistory
from ..throttle import Throttle
from ..views.colors import FP32, INT8, SIDES
from ..views.main_window import MainWindow

if TYPE_CHECKING:
    from gpt2q_desktop.core.results import ComparisonRow

    from ..views.latency_chart import Point

log = logging.getLogger(LOGGER)

CHART_EVERY_MS = 250
"""The latency chart follows a prompt list at most this often."""
SAVE_FILTERS = {"CSV (*.csv)": ".csv", "JSON (*.json)": ".json", "Markdown (*.md)": ".md"}
EXPORT_FORMATS = {".csv": "csv", ".json": "json", ".md": "markdown", ".markdown": "markdown", ".txt": "table"}
RETRY_MS = 1_000
"""While another program holds the history database, it is tried again this often."""
WAITING = "History waiting for the database"
WAITING_TIP = "Another program holds the history database: new rows are kept here and saved as soon as it is free."


def chart_points(rows: Sequence[ComparisonRow]) -> tuple[list[Point], list[str]]:
    """The median milliseconds of every model in :data:`~..views.colors.SIDES` per prompt run (None where a
    model did not run), and the prompt of each; a prompt's rows on several runtimes, one after the other, make
    one point."""
    points: list[list[float | None]] = []
    prompts: list[str] = []
    for row in rows:
        fp32, int8 = SIDES.index((row.runtime, FP32)), SIDES.index((row.runtime, INT8))
        if not prompts or row.prompt != prompts[-1] or points[-1][fp32] is not None:
            points.append([None] * len(SIDES))
            prompts.append(row.prompt)
        points[-1][fp32], points[-1][int8] = row.fp32.timing.median_ms, row.int8.timing.median_ms
    return [tuple(point) for point in points], prompts


class HistoryController(QObject):
    """Wires the history panel (filter, save as, copy, delete, clear) and the chart to the history model, and
    keeps every row in the history database (:class:`~..stored_history.StoredHistory`)."""

    def __init__(self, window: MainWindow, history: HistoryModel) -> None:
        super().__init__(window)
        self.window, self.history = window, history
        self.panel = panel = window.history_panel
        panel.save_clicked.connect(self.choose_save_path)
        panel.copy_requested.connect(self.copy_selection)
        panel.delete_requested.connect(self.delete_selection)
        panel.clear_clicked.connect(self.clear_shown)
        panel.checkpoint_chosen.connect(lambda: self.show_checkpoint(panel.current_checkpoint()))
        window.act_save_history.triggered.connect(self.choose_save_path)
        self._chart = Throttle(self._update_chart, CHART_EVERY_MS, self)
        history.rowsInserted.connect(self._on_rows_inserted)
        self._retry = QTimer(self)
        self._retry.setInterval(RETRY_MS)
        self._retry.timeout.connect(self._retry_database)
        self.stored = StoredHistory()
        self._load(None)
        self._follow_database()

    @property
    def checkpoint(self) -> str | None:
        """The checkpoint whose rows are shown (None: all)."""
        return self.panel.current_checkpoint()

    def shown_rows(self) -> list[ComparisonRow]:
        """The rows the filter shows, in the order they were run."""
        return self.history.rows_of(self.checkpoint)

    def show_checkpoint(self, name: str | None) -> None:
        """Show the rows of *name* (None: all), read again from the database: other windows' rows appear."""
        self._load(name)
        self.show_messages()

    def _load(self, name: str | None) -> None:
        stored = self.stored.load()
        if stored is not None:  # else the rows in memory are all there is
            self.history.set_rows(stored)
        self._offer_checkpoints(name)

    def _offer_checkpoints(self, name: str | None) -> None:
        """The filter offers the checkpoints that have rows and shows *name* (all if it has none left)."""
        self.panel.set_checkpoints(self.history.checkpoints(), name)
        self._update_chart()

    def add(self, row: ComparisonRow) -> None:
        """Keep *row* (in the database, and in the table); a filter that would hide it shows all checkpoints."""
        self.history.append(row, self.stored.add(row))
        if self.checkpoint not in (None, row.checkpoint):
            self.show_checkpoint(None)
        elif not self.panel.offers(row.checkpoint):
            self._offer_checkpoints(self.checkpoint)
        self.show_messages()

    def delete_selection(self) -> None:
        """Remove the selected rows from the table and the database."""
        rows = self.panel.selected_source_rows()
        if not rows:
            self.window.show_status("Select history rows to delete.")
            return
        self._remove(rows)

    def clear_shown(self) -> None:
        """After asking, remove every row the filter shows from the table and the database."""
        rows, name = self.history.source_rows_of(self.checkpoint), self.checkpoint
        if not rows:
            self.window.show_status("There are no history rows to clear.")
            return
        which = "of all checkpoints" if name is None else f"of {name or 'the checkpoint without a name'}"
        count = f"the {len(rows)} history rows" if len(rows) != 1 else "the history row"
        question = f"Delete {count} {which}? This cannot be undone."
        if not self.window.confirm("Clear history", question):
            self.window.show_status("Nothing was deleted.")
            return
        self._remove(rows)

    def _remove(self, rows: list[int]) -> None:
        shown = self.history.rows
        unsaved = [shown[r] for r in rows if not self.history.ids([r])]
        self.stored.delete(self.history.ids(rows), unsaved)
        self.history.remove(rows)
        self._offer_checkpoints(self.checkpoint)
        self.window.show_status(f"Deleted {len(rows)} row{'s' if len(rows) != 1 else ''} from the history.")
        self.show_messages()

    def show_messages(self) -> None:
        """Tell the user, once, what became of the database (set aside; or given up, rows in memory only), and
        whether rows wait for it."""
        for text in self.stored.take_messages():
            self.window.notify_error(text)
        self._follow_database()

    def _follow_database(self) -> None:
        """Say whether rows wait for a locked database, and try it again while they do."""
        waiting = self.stored.waiting
        self.panel.set_waiting(WAITING if waiting else "", WAITING_TIP)
        if waiting and not self._retry.isActive():
            self._retry.start()
            self.window.show_status(WAITING_TIP)
        elif not waiting:
            self._retry.stop()

    def _retry_database(self) -> None:
        written = self.stored.retry()
        if written is not None:  # free again: the rows come back from it, with their ids
            self._load(self.checkpoint)
            self.window.show_status(f"History saved: {counted(written, 'row')} that waited for the database.")
        self.show_messages()

    def close(self) -> None:
        """Write what waits, close the database (the window is closing)."""
        self._retry.stop()
        self.stored.close()

    def save_to(self, path: str, fmt: str | None = None) -> bool:
        """Write the rows shown with ``core.measure.render.render``; the format follows the suffix unless given."""
        rows = self.shown_rows()
        if not rows:
            self.window.notify_error("Nothing to save yet: run a prompt first.")
            return False
        fmt = fmt or EXPORT_FORMATS.get(Path(path).suffix.lower(), "csv")
        try:
            Path(path).write_text(render(rows, fmt), encoding="utf-8")
        except OSError as exc:
            log.warning("saving the history to %s failed: %s", path, exc)
            self.window.notify_error(f"Could not write {path}: {exc.strerror or exc}.")
            return False
        self.window.show_status(f"Saved {counted(len(rows), 'row')} to {path}.")
        return True

    def choose_save_path(self) -> None:
        start = str(Path.home() / "gpt2q-history.csv")
        path, chosen = QFileDialog.getSaveFileName(self.window, "Save history as", start, ";;".join(SAVE_FILTERS))
        if path:
            if not Path(path).suffix:
                path += SAVE_FILTERS.get(chosen, ".csv")
            self.save_to(path)

    def copy_selection(self) -> None:
        """Copy the selected rows (in model order) as tab-separated text with a header line."""
        rows = self.panel.selected_source_rows()
        if not rows:
            self.window.show_status("Select history rows to copy.")
            return
        QGuiApplication.clipboard().setText(self.history.tsv(rows))
        self.window.show_status(f"Copied {len(rows)} rows.")

    def _on_rows_inserted(self, *_: object) -> None:
        self._chart.push(None)

    def flush_chart(self) -> None:
        """Draw the rows that wait for the chart now (when a job ends)."""
        self._chart.flush()

    def _update_chart(self, _: object = None) -> None:
        self.panel.show_points(*chart_points(self.shown_rows()))
