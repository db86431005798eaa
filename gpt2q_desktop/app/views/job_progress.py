"""The worker's activity as a panel shows it: a progress bar and a line of text.

One lifecycle for every job: idle (an empty bar without a percentage, "Nothing run yet." or "Ready."), busy
(an indeterminate bar, the job's first words), stepped (a bar with the core's steps), then one end: done (a
full bar, "Done: <what>."), or stopped (idle again: "Cancelled: …" or "Failed: …").
"""

from __future__ import annotations

from PySide6.QtCore import QObject, Slot
from PySide6.QtWidgets import QLabel, QProgressBar

from ..throttle import Throttle

SHOW_EVERY_MS = 250
"""Steps between a job's first and last are shown at most this often (a bar repaints at once on a change)."""
NOTHING_RUN = "Nothing run yet."
READY = "Ready."
CANCELLING = "Cancelling…"


class JobProgress(QObject):
    """Owns a bar and a step label (the panel lays them out); a ``QObject`` so that the worker thread's
    progress reaches it queued, on the GUI thread. Fast steps (a long prompt list) are coalesced."""

    def __init__(self, parent: QObject) -> None:
        super().__init__(parent)
        self.bar = QProgressBar()
        self.step = QLabel()
        self.step.setWordWrap(True)
        self._steps = Throttle(self._show, SHOW_EVERY_MS, self)
        self._cancelling = False
        self.set_idle(NOTHING_RUN)

    @Slot(int, int, str)
    def set_progress(self, done: int, total: int, message: str) -> None:
        """A step of the running job (*done* of *total*)."""
        if 0 < done < total:
            self._steps.push((done, total, message))
        else:
            self._steps.cancel()
            self._show((done, total, message))

    def _show(self, step: tuple[int, int, str]) -> None:
        done, total, message = step
        self.bar.setTextVisible(True)
        self.bar.setRange(0, max(total, 1))
        self.bar.setValue(done)
        if not self._cancelling:  # the steps still come until the core notices; the line keeps saying so
            self.step.setText(message)

    def set_busy(self, message: str) -> None:
        """A job started: an indeterminate bar until its first step."""
        self._end(message)
        self.bar.setRange(0, 0)

    def set_cancelling(self) -> None:
        """Cancel was asked for: the bar goes on until the job stops at its next step."""
        self.step.setText(CANCELLING)
        self._cancelling = True

    def set_done(self, message: str) -> None:
        """The job ran to its end: a full bar (of the last steps shown, if any)."""
        maximum = self.bar.maximum()
        self._end(message)
        self.bar.setTextVisible(True)
        self.bar.setRange(0, max(maximum, 1))
        self.bar.setValue(self.bar.maximum())

    def set_idle(self, message: str = READY) -> None:
        """No job under way: an empty bar without a percentage; *message* says why (nothing run yet, ready, or
        how the last job stopped: cancelled, failed)."""
        self._end(message)
        self.bar.setTextVisible(False)
        self.bar.setRange(0, 1)
        self.bar.setValue(0)

    def _end(self, message: str) -> None:
        self._steps.cancel()
        self._cancelling = False
        self.step.setText(message)
