"""The worker's activity as a panel shows it: a progress bar and the current step."""

from __future__ import annotations

from PySide6.QtCore import QObject, Slot
from PySide6.QtWidgets import QLabel, QProgressBar

from ..throttle import Throttle

SHOW_EVERY_MS = 250
"""Steps between a job's first and last are shown at most this often (a bar repaints at once on a change)."""


class JobProgress(QObject):
    """Owns a bar and a step label (the panel lays them out); a ``QObject`` so that the worker thread's
    progress reaches it queued, on the GUI thread. Fast steps (a long prompt list) are coalesced."""

    def __init__(self, parent: QObject) -> None:
        super().__init__(parent)
        self.bar = QProgressBar()
        self.step = QLabel("Idle")
        self._steps = Throttle(self._show, SHOW_EVERY_MS, self)
        self.set_idle("Idle")

    @Slot(int, int, str)
    def set_progress(self, done: int, total: int, message: str) -> None:
        if 0 < done < total:
            self._steps.push((done, total, message))
        else:
            self._steps.cancel()
            self._show((done, total, message))

    def _show(self, step: tuple[int, int, str]) -> None:
        done, total, message = step
        self.bar.setRange(0, max(total, 1))
        self.bar.setValue(done)
        self.step.setText(message)

    def set_busy(self, message: str) -> None:
        """An indeterminate bar, for a job without steps (loading)."""
        self._steps.cancel()
        self.bar.setRange(0, 0)
        self.step.setText(message)

    def set_idle(self, message: str) -> None:
        self._steps.cancel()
        self.bar.setRange(0, 1)
        self.bar.setValue(0)
        self.step.setText(message)
