"""Python's cyclic garbage collector, run on the GUI thread only.

The collector normally starts on whichever thread happens to allocate. When that is the worker thread
(building a model allocates a lot) and the garbage holds Qt objects (a closed window's wrappers, say), Qt
deletes them off their thread and the process crashes. So, as calibre does, automatic collection is turned
off while the window lives, and a timer on the GUI thread collects generation by generation with the
collector's own thresholds. A full collection over torch's and transformers' objects takes 170-330 ms here,
a stall the window would feel, so :func:`freeze_libraries` moves them out of every later collection
(``gc.freeze``) once they are imported, before any model exists: then a full collection only walks the
models and the app's own objects. While the libraries are imported (:func:`importing_libraries`), the timer
collects nothing: the young generations then hold tens of thousands of new objects, nearly all of them for good,
and walking them took 40-130 ms of the GUI thread a time, to free almost nothing.
"""

from __future__ import annotations

import gc
import threading
from collections.abc import Iterator
from contextlib import contextmanager

from PySide6.QtCore import QObject, QTimer

INTERVAL_MS = 500
_frozen = threading.Event()
"""Set once the libraries are frozen (``gc.get_freeze_count()`` walks the whole frozen list: 30 ms here)."""
_importing = threading.Event()
"""Set while the worker thread imports the libraries."""


@contextmanager
def importing_libraries() -> Iterator[None]:
    """While the body runs (the worker's imports, ending with :func:`freeze_libraries`), nothing is collected."""
    _importing.set()
    try:
        yield
    finally:
        _importing.clear()


def freeze_libraries() -> None:
    """Import torch and transformers' GPT-2, then exempt every object alive from later collections.

    Freezing frees nothing, so it is safe on the worker thread. Garbage alive at this moment (imports make
    little) is kept for good; models, created later, stay collectable.
    """
    import torch  # noqa: F401
    from transformers import GPT2LMHeadModel  # noqa: F401

    gc.freeze()
    _frozen.set()


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
        """Collect each generation whose count is over its threshold, youngest first; the oldest only once the
        libraries are frozen (before, a full collection walks all of torch: 170-350 ms on this thread); none while
        they are imported."""
        if _importing.is_set():
            return
        counts, thresholds = gc.get_count(), gc.get_threshold()
        for generation in range(3 if _frozen.is_set() else 2):
            if counts[generation] <= thresholds[generation]:
                break
            gc.collect(generation)

    def stop(self) -> None:
        """Collect everything now, on this thread, and restore automatic collection if it was on."""
        self._timer.stop()
        _frozen.clear()
        gc.unfreeze()
        gc.collect()
        if self._was_enabled:
            gc.enable()
