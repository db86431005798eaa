"""The worker's activity as a panel shows it: a progress bar and the current step."""

from __future__ import annotations

from PySide6.QtCore import QObject, Slot
from PySide6.QtWidgets import QLabel, QProgressBar


class JobProgress(QObject):
    """Owns a bar and a step label (the panel lays them out); a ``QObject`` so that the worker thread's
    progress signal reaches it queued, on the GUI thread."""

    def __init__(self, parent: QObject) -> None:
        super().__init__(parent)
        self.bar = QProgressBar()
        self.step = QLabel("Idle")
        self.set_idle("Idle")

    @Slot(int, int, str)
    def set_progress(self, done: int, total: int, message: str) -> None:
        self.bar.setRange(0, max(total, 1))
        self.bar.setValue(done)
        self.step.setText(message)

    def set_busy(self, message: str) -> None:
        """An indeterminate bar, for a job without steps (loading)."""
        self.bar.setRange(0, 0)
        self.step.setText(message)

    def set_idle(self, message: str) -> None:
        self.bar.setRange(0, 1)
        self.bar.setValue(0)
        self.step.setText(message)
