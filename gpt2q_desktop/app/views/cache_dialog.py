"""The cache manager: stored INT8 models, their sizes and sources; delete; open the data folder."""

from __future__ import annotations

from PySide6.QtCore import Signal
from PySide6.QtWidgets import (
    QAbstractItemView,
    QDialog,
    QHBoxLayout,
    QHeaderView,
    QLabel,
    QPushButton,
    QTableView,
    QVBoxLayout,
    QWidget,
)

from ..models.cache_model import CacheModel


class CacheDialog(QDialog):
    """A non-modal dialog over a :class:`CacheModel`."""

    delete_clicked = Signal()
    refresh_clicked = Signal()
    open_folder_clicked = Signal()

    def __init__(self, model: CacheModel, parent: QWidget | None = None) -> None:
        super().__init__(parent)
        self.setWindowTitle("Cache manager")
        self.resize(760, 320)
        self.table = QTableView()
        self.table.setModel(model)
        self.table.setSelectionBehavior(QAbstractItemView.SelectionBehavior.SelectRows)
        self.table.horizontalHeader().setSectionResizeMode(QHeaderView.ResizeMode.ResizeToContents)
        self.table.horizontalHeader().setStretchLastSection(True)
        self.summary = QLabel()
        self.delete_button = QPushButton("Delete")
        self.delete_button.setToolTip("Delete the selected INT8 models (they are rebuilt when needed)")
        self.refresh_button = QPushButton("Refresh")
        self.folder_button = QPushButton("Open data folder")
        close = QPushButton("Close")
        buttons = QHBoxLayout()
        for b in (self.delete_button, self.refresh_button, self.folder_button):
            buttons.addWidget(b)
        buttons.addStretch(1)
        buttons.addWidget(close)
        layout = QVBoxLayout(self)
        layout.addWidget(self.summary)
        layout.addWidget(self.table, 1)
        layout.addLayout(buttons)
        self.delete_button.clicked.connect(self.delete_clicked)
        self.refresh_button.clicked.connect(self.refresh_clicked)
        self.folder_button.clicked.connect(self.open_folder_clicked)
        close.clicked.connect(self.close)

    def selected_rows(self) -> list[int]:
        return sorted({i.row() for i in self.table.selectionModel().selectedRows()})

    def show_summary(self, text: str) -> None:
        """What the cache holds, or why an action failed."""
        self.summary.setText(text)
