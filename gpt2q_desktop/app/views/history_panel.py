"""The history: a sortable table of every prompt run, its actions, and the latency chart."""

from __future__ import annotations

from PySide6.QtCore import QSortFilterProxyModel, Qt, Signal
from PySide6.QtGui import QAction, QKeySequence
from PySide6.QtWidgets import (
    QAbstractItemView,
    QHBoxLayout,
    QHeaderView,
    QPushButton,
    QSplitter,
    QTableView,
    QVBoxLayout,
    QWidget,
)

from ..models.history_model import SORT_ROLE, HistoryModel
from .colors import SIDES, side_color, side_name
from .latency_chart import LatencyChart


class HistoryPanel(QWidget):
    """Table (through a sorting proxy) + Export / Run a prompt list / Copy / Clear + chart."""

    export_clicked = Signal()
    prompt_list_clicked = Signal()
    copy_requested = Signal()
    clear_clicked = Signal()

    def __init__(self, model: HistoryModel, parent: QWidget | None = None) -> None:
        super().__init__(parent)
        self.proxy = QSortFilterProxyModel(self)
        self.proxy.setSourceModel(model)
        self.proxy.setSortRole(SORT_ROLE)
        self.table = QTableView()
        self.table.setModel(self.proxy)
        self.table.setSortingEnabled(True)
        self.table.setSelectionBehavior(QAbstractItemView.SelectionBehavior.SelectRows)
        self.table.setAlternatingRowColors(True)
        self.table.horizontalHeader().setSectionResizeMode(0, QHeaderView.ResizeMode.Stretch)
        self.table.verticalHeader().hide()  # a row-number header re-measures its labels on every insert: O(n²)
        self.table.sortByColumn(-1, Qt.SortOrder.AscendingOrder)
        copy = QAction("Copy rows", self.table)
        copy.setShortcut(QKeySequence.StandardKey.Copy)
        copy.setShortcutContext(Qt.ShortcutContext.WidgetWithChildrenShortcut)
        copy.triggered.connect(self.copy_requested)
        self.table.addAction(copy)

        self.export_button = QPushButton("Export…")
        self.export_button.setToolTip("Save the history as CSV, JSON or Markdown (Ctrl+E)")
        self.prompt_list_button = QPushButton("Run a prompt list…")
        self.prompt_list_button.setToolTip("Run every line of a text file as a prompt (Ctrl+L)")
        self.copy_button = QPushButton("Copy")
        self.copy_button.setToolTip("Copy the selected rows as tab-separated text (Ctrl+C)")
        self.clear_button = QPushButton("Clear")
        buttons = QHBoxLayout()
        for b in (self.export_button, self.prompt_list_button, self.copy_button, self.clear_button):
            buttons.addWidget(b)
        buttons.addStretch(1)

        self.chart = LatencyChart([(side_name(*side), side_color(*side)) for side in SIDES])
        split = QSplitter(Qt.Orientation.Horizontal)
        split.addWidget(self.table)
        split.addWidget(self.chart)
        split.setStretchFactor(0, 3)
        split.setStretchFactor(1, 1)

        layout = QVBoxLayout(self)
        layout.setContentsMargins(0, 0, 0, 0)
        layout.addLayout(buttons)
        layout.addWidget(split, 1)

        self.export_button.clicked.connect(self.export_clicked)
        self.prompt_list_button.clicked.connect(self.prompt_list_clicked)
        self.copy_button.clicked.connect(self.copy_requested)
        self.clear_button.clicked.connect(self.clear_clicked)

    def selected_source_rows(self) -> list[int]:
        """The selected rows, as rows of the history model (not of the sorted view)."""
        rows = self.table.selectionModel().selectedRows()
        return sorted({self.proxy.mapToSource(i).row() for i in rows})
