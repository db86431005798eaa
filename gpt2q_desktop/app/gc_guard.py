"""Python's cyclic garbage collector, run on the GUI thread only.

The collector normally starts on whichever thread happens to allocate. When that is the worker thread
(building a model allocates a lot) and the garbage holds Qt objects (a closed window's wrappers, say), Qt
deletes them off their thread and the process crashes. So, as calibre does, automatic collection is turned
off while the window lives, and a timer on the GUI thread collects generation by generation with the
collector's own thresholds. A full collection over torch's and transformers' objects takes about 170 ms
here, so :meth:`settle` moves what survives a checkpoint load out of future collections (``gc.freeze``).
"""

from __future__ import annotations

import gc

from PySide6.QtCore import QObject, QTimer, Slot

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

    @Slot()
    def settle(self) -> None:
        """After a checkpoint has loaded: collect once, then exempt the survivors from later collections."""
        gc.unfreeze()
        gc.collect()
        gc.freeze()

    def stop(self) -> None:
        """Collect everything now, on this thread, and restore automatic collection if it was on."""
        self._timer.stop()
        gc.unfreeze()
        gc.collect()
        if self._was_enabled:
            gc.enable()
