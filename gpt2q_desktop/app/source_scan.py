"""The Hugging Face cache scan, off the GUI thread: a slow or odd file system never keeps the window from
appearing or responding."""

from __future__ import annotations

import logging
import threading

from PySide6.QtCore import QObject, Signal

from gpt2q_desktop.core.checkpoints.sources import find_hf_gpt2

log = logging.getLogger("gpt2q")
SCAN_SECONDS = 5.0
"""The scan gives up (keeping what it found) after this long."""


class SourceScan(QObject):
    """Scans on a short-lived background thread; :attr:`found` arrives queued on the GUI thread. Give it no Qt
    parent: the running thread holds it, so it is never deleted under the thread's feet."""

    found = Signal(list)
    """``list[core.sources.FoundModel]``."""

    def start(self) -> None:
        threading.Thread(target=self._scan, name="gpt2q-hf-scan", daemon=True).start()

    def _scan(self) -> None:
        try:
            models = find_hf_gpt2(time_limit_s=SCAN_SECONDS)
        except Exception:  # a listing is a convenience: log it and show none
            log.warning("scanning the Hugging Face cache failed", exc_info=True)
            models = []
        self.found.emit(models)
