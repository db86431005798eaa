"""Showing fast-changing state at a rate the eye (and the GIL) can afford."""

from __future__ import annotations

from collections.abc import Callable
from typing import Any

from PySide6.QtCore import QObject, QTimer

_NOTHING = object()


class Throttle(QObject):
    """Calls *show* with the latest pushed value at most once per *interval_ms*: a value pushed while idle is
    shown at once, later ones are coalesced until the interval has passed; :meth:`flush` shows what waits."""

    def __init__(self, show: Callable[[Any], None], interval_ms: int, parent: QObject) -> None:
        super().__init__(parent)
        self._show = show
        self._pending: Any = _NOTHING
        self._timer = QTimer(self)
        self._timer.setSingleShot(True)
        self._timer.setInterval(interval_ms)
        self._timer.timeout.connect(self._on_timeout)

    def push(self, value: Any) -> None:
        if self._timer.isActive():
            self._pending = value
        else:
            self._show(value)
            self._timer.start()

    def flush(self) -> None:
        """Show the value still waiting, if any, now."""
        self._timer.stop()
        self._on_timeout()

    def cancel(self) -> None:
        """Forget the value still waiting."""
        self._timer.stop()
        self._pending = _NOTHING

    def _on_timeout(self) -> None:
        if self._pending is not _NOTHING:
            value, self._pending = self._pending, _NOTHING
            self._show(value)
            self._timer.start()
