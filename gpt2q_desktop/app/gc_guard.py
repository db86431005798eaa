"""Python's cyclic garbage collector, run on the GUI thread only.

The collector normally starts on whichever thread happens to allocate. When that is the engine thread
(building a model allocates a lot) and the garbage holds Qt objects (a closed window's wrappers, say), Qt
deletes them off their thread and the process crashes. So, as calibre does, automatic collection is turned
off while the window lives, and a timer on the GUI thread collects generation by generation with the
collector's own thresholds.
"""

from __future__ import annotations

import gc

from PySide6.QtCore import QObject, QTimer

INTERVAL_MS = 500


class MainThreadCollector(QObject):
    """Collects garbage from the GUI thread's event loop; :meth:`stop` gives collection back to Python."""

    def __init__(self, parent: QObject | None = None, interval_ms: int = INTERVAL_MS) -> None:
        super().__init__(parent)
        self._was_enabled = gc.isenabled()
        gc.disable()
        self._timer = QTimer(self)
        self._timer.setInterval(interval_ms)
        self._timer.timeout.connect(self.check)
        self._timer.start()

    def check(self) -> None:
        """Collect each generation whose count is over its threshold, youngest first."""
        counts, thresholds = gc.get_count(), gc.get_threshold()
        for generation in range(3):
            if counts[generation] <= thresholds[generation]:
                break
            gc.collect(generation)

    def stop(self) -> None:
        """Collect everything now, on this thread, and restore automatic collection if it was on."""
        self._timer.stop()
        gc.collect()
        if self._was_enabled:
            gc.enable()
