"""Log records to a Qt signal, so a log pane can show them (records may come from the worker thread)."""

from __future__ import annotations

import logging

from PySide6.QtCore import QObject, Signal


class LogEmitter(QObject):
    record = Signal(str)


class QtLogHandler(logging.Handler):
    """A logging handler whose records are emitted as ``emitter.record``, one line each (a traceback stays in the
    log file). The emitter lives on the GUI thread, so a record from the worker thread reaches the pane queued."""

    def __init__(self, level: int = logging.INFO) -> None:
        super().__init__(level)
        self.emitter = LogEmitter()
        self.setFormatter(logging.Formatter("%(asctime)s %(levelname)s %(message)s", "%H:%M:%S"))

    def format(self, record: logging.LogRecord) -> str:
        line = logging.makeLogRecord({**record.__dict__, "exc_info": None, "exc_text": None, "stack_info": None})
        return super().format(line)

    def emit(self, record: logging.LogRecord) -> None:
        try:
            self.emitter.record.emit(self.format(record))
        except RuntimeError:  # the emitter was deleted at shutdown
            pass
