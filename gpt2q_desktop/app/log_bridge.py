"""Log records to a Qt signal, so a log pane can show them (records may come from the worker thread)."""

from __future__ import annotations

import logging

from PySide6.QtCore import QObject, Signal


class LogEmitter(QObject):
    record = Signal(str)


class QtLogHandler(logging.Handler):
    """A logging handler whose formatted records are emitted as ``emitter.record`` (queued across threads)."""

    def __init__(self, level: int = logging.INFO) -> None:
        super().__init__(level)
        self.emitter = LogEmitter()
        self.setFormatter(logging.Formatter("%(asctime)s %(levelname)s %(message)s", "%H:%M:%S"))

    def emit(self, record: logging.LogRecord) -> None:
        try:
            self.emitter.record.emit(self.format(record))
        except RuntimeError:  # the emitter was deleted at shutdown
            pass
