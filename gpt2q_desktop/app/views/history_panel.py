"""The history: a sortable table of every prompt run, filtered by checkpoint, its actions, and the latency chart."""

from __future__ import annotations

from collections.abc import Sequence

from PySide6.QtCore import QRegularExpression, QSortFilterProxyModel, Qt, Signal, SignalInstance
from PySide6.QtGui import QAction, QKeySequence, QResizeEvent
from PySide6.QtWidgets import (
    QAbstractItemView,
    QComboBox,
    QHBoxLayout,
    QHeaderView,
    QLabel,
    QPushButton,
    QSplitter,
    QTableView,
    QVBoxLayout,
    QWidget,
)

from gpt2q_desktop.core.runtimes import Runtime

from ..models.history_model import CHECKPOINT_ROLE, HEADERS, SORT_ROLE, HistoryModel
from .colors import SIDES, side_color, side_name
from .latency_chart import LatencyChart, Point

ALL_CHECKPOINTS = "All checkpoints"
UNNAMED = "(no name)"
CHECKPOINT_CHARS = 18
"""The checkpoint filter and column are this many characters wide (the list and the tooltip show whole names)."""
PROMPT_CHARS = 28
"""The prompt column is at least this many characters wide (a longer prompt keeps its start and end)."""
SAMPLE = "12345.67"
"""A typical value: the number columns are at least this wide."""
SORT_ARROW_PX = 24
"""Room for the sort arrow and the padding beside a column's title."""


class HistoryTable(QTableView):
    """The history's table: every column as wide as its title and a typical value, the prompt column given the
    rest of the width but never fewer than :data:`PROMPT_CHARS` characters (the table scrolls instead)."""

    def fit_columns(self) -> None:
        """Size the columns to their titles (call once the model is set)."""
        header, metrics = self.horizontalHeader(), self.fontMetrics()
        header.setSectionResizeMode(QHeaderView.ResizeMode.Interactive)
        header.setStretchLastSection(False)
        samples = {
            HEADERS.index("Checkpoint"): "x" * CHECKPOINT_CHARS,
            HEADERS.index("Runtime"): max((runtime.label for runtime in Runtime), key=len),
        }
        for column in range(1, self.model().columnCount()):
            title = str(self.model().headerData(column, Qt.Orientation.Horizontal))
            width = max(metrics.horizontalAdvance(title), metrics.horizontalAdvance(samples.get(column, SAMPLE)))
            header.resizeSection(column, width + SORT_ARROW_PX)
        self._fit_prompt()

    def _fit_prompt(self) -> None:
        header = self.horizontalHeader()
        others = sum(header.sectionSize(c) for c in range(1, header.count()))
        least = self.fontMetrics().horizontalAdvance("x" * PROMPT_CHARS)
        header.resizeSection(0, max(least, self.viewport().width() - others))

    def resizeEvent(self, event: QResizeEvent) -> None:
        super().resizeEvent(event)
        self._fit_prompt()


class HistoryPanel(QWidget):
    """Checkpoint filter + Export / Run a prompt list / Copy / Delete / Clear, the table (through a sorting and
    filtering proxy) and the chart."""

    save_clicked = Signal()
    prompt_list_clicked = Signal()
    copy_requested = Signal()
    delete_requested = Signal()
    clear_clicked = Signal()
    checkpoint_chosen = Signal()
    """The user chose another entry in the checkpoint filter."""

    def __init__(self, model: HistoryModel, parent: QWidget | None = None) -> None:
        super().__init__(parent)
        self.proxy = QSortFilterProxyModel(self)
        self.proxy.setSourceModel(model)
        self.proxy.setSortRole(SORT_ROLE)
        self.proxy.setFilterRole(CHECKPOINT_ROLE)
        self.table = HistoryTable()
        self.table.setModel(self.proxy)
        self.table.setSortingEnabled(True)
        self.table.setSelectionBehavior(QAbstractItemView.SelectionBehavior.SelectRows)
        self.table.setAlternatingRowColors(True)
        self.table.setWordWrap(False)
        self.table.setTextElideMode(Qt.TextElideMode.ElideMiddle)  # a long prompt keeps its start and end
        self.table.fit_columns()
        self.table.verticalHeader().hide()  # a row-number header re-measures its labels on every insert: O(n²)
        self.table.sortByColumn(-1, Qt.SortOrder.AscendingOrder)
        self._table_action("Copy rows", QKeySequence.StandardKey.Copy, self.copy_requested)
        self._table_action("Delete rows", QKeySequence.StandardKey.Delete, self.delete_requested)

        self.chart = LatencyChart([(side_name(*side), side_color(*side)) for side in SIDES])
        self.split = QSplitter(Qt.Orientation.Horizontal)
        self.split.addWidget(self.table)
        self.split.addWidget(self.chart)
        self.split.setStretchFactor(0, 3)
        self.split.setStretchFactor(1, 1)

        layout = QVBoxLayout(self)
        layout.setContentsMargins(0, 0, 0, 0)
        layout.addLayout(self._bar())
        layout.addWidget(self.split, 1)

        self.save_button.clicked.connect(self.save_clicked)
        self.prompt_list_button.clicked.connect(self.prompt_list_clicked)
        self.copy_button.clicked.connect(self.copy_requested)
        self.delete_button.clicked.connect(self.delete_requested)
        self.clear_button.clicked.connect(self.clear_clicked)
        self.checkpoint.currentIndexChanged.connect(self.checkpoint_chosen)

    def _bar(self) -> QHBoxLayout:
        """The checkpoint filter and the buttons, in a row."""
        self.checkpoint = QComboBox()
        self.checkpoint.setToolTip("Show the rows of one checkpoint; copy, Save as, Clear and the chart follow")
        self.checkpoint.addItem(ALL_CHECKPOINTS, None)
        self.checkpoint.setSizeAdjustPolicy(QComboBox.SizeAdjustPolicy.AdjustToMinimumContentsLengthWithIcon)
        self.checkpoint.setMinimumContentsLength(CHECKPOINT_CHARS)
        self.save_button = QPushButton("Save as…")
        self.save_button.setToolTip("Save the history as CSV, JSON or Markdown (Ctrl+E)")
        self.prompt_list_button = QPushButton("Run a prompt list…")
        self.prompt_list_button.setToolTip("Run every line of a text file as a prompt (Ctrl+L)")
        self.copy_button = QPushButton("Copy")
        self.copy_button.setToolTip("Copy the selected rows as tab-separated text (Ctrl+C)")
        self.delete_button = QPushButton("Delete")
        self.delete_button.setToolTip("Remove the selected rows from the history (Delete)")
        self.clear_button = QPushButton("Clear…")
        self.clear_button.setToolTip("Remove every row shown from the history, after asking")
        buttons = QHBoxLayout()
        buttons.addWidget(self.checkpoint)
        for b in (self.save_button, self.prompt_list_button, self.copy_button, self.delete_button, self.clear_button):
            buttons.addWidget(b)
        buttons.addStretch(1)
        self.waiting = QLabel()
        """Says that rows wait for a locked history database (hidden otherwise)."""
        self.waiting.hide()
        buttons.addWidget(self.waiting)
        return buttons

    def _table_action(self, text: str, key: QKeySequence.StandardKey, signal: SignalInstance) -> None:
        """A shortcut that acts while the table has the focus."""
        action = QAction(text, self.table)
        action.setShortcut(key)
        action.setShortcutContext(Qt.ShortcutContext.WidgetWithChildrenShortcut)
        action.triggered.connect(signal)
        self.table.addAction(action)

    def set_checkpoints(self, names: list[str], current: str | None) -> None:
        """Offer *names* in the filter, *current* (None, or a name not offered: all) chosen, and show its rows
        (no signal is sent)."""
        current = current if current in names else None
        self.checkpoint.blockSignals(True)
        self.checkpoint.clear()
        self.checkpoint.addItem(ALL_CHECKPOINTS, None)
        for name in names:
            self.checkpoint.addItem(name or UNNAMED, name)
        self.checkpoint.setCurrentIndex(0 if current is None else self.checkpoint.findData(current))
        self.checkpoint.blockSignals(False)
        pattern = "" if current is None else f"^{QRegularExpression.escape(current)}$"
        self.proxy.setFilterRegularExpression(pattern)

    def set_waiting(self, text: str, tip: str = "") -> None:
        """Show *text* at the end of the bar (hidden when empty)."""
        self.waiting.setText(text)
        self.waiting.setToolTip(tip if text else "")
        self.waiting.setVisible(bool(text))

    def current_checkpoint(self) -> str | None:
        """The checkpoint the filter shows (None: all)."""
        return self.checkpoint.currentData()

    def offers(self, name: str | None) -> bool:
        """Whether the filter offers checkpoint *name*."""
        return self.checkpoint.findData(name) >= 0

    def show_points(self, points: Sequence[Point], prompts: Sequence[str]) -> None:
        """Draw one point per prompt, oldest first, in the latency chart."""
        self.chart.set_points(points, prompts)

    def selected_source_rows(self) -> list[int]:
        """The selected rows, as rows of the history model (not of the sorted view)."""
        rows = self.table.selectionModel().selectedRows()
        return sorted({self.proxy.mapToSource(i).row() for i in rows})
