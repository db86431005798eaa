"""A dock with the log's recent lines, and a way to the full log file."""

from __future__ import annotations

from PySide6.QtCore import Signal, Slot
from PySide6.QtWidgets import QDockWidget, QPlainTextEdit, QPushButton, QVBoxLayout, QWidget

MAX_LINES = 2000


class LogDock(QDockWidget):
    """Read-only recent log lines; details behind every error end up here and in the log file."""

    open_file_clicked = Signal()

    def __init__(self, parent: QWidget | None = None) -> None:
        super().__init__("Log", parent)
        self.setObjectName("log-dock")
        self.text = QPlainTextEdit()
        self.text.setReadOnly(True)
        self.text.setMaximumBlockCount(MAX_LINES)
        button = QPushButton("Open log file")
        button.clicked.connect(self.open_file_clicked)
        body = QWidget()
        layout = QVBoxLayout(body)
        layout.setContentsMargins(2, 2, 2, 2)
        layout.addWidget(self.text, 1)
        layout.addWidget(button)
        self.setWidget(body)

    @Slot(str)
    def append(self, line: str) -> None:
        self.text.appendPlainText(line)
