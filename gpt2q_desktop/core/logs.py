"""Logging to a file in the data directory, so every error shown in one line has its details somewhere.

The ``gpt2q`` logger says at INFO what the app did (a checkpoint opened, a quantization, cache hits and
writes, comparisons, evaluations, exports) and at WARNING or ERROR what went wrong, as the user was told.
"""

from __future__ import annotations

import logging
import logging.handlers
from pathlib import Path

from gpt2q_desktop.core.paths import data_dir

LOGGER = "gpt2q"
MAX_BYTES = 2_000_000
"""The log file is rotated at this size (some 10,000 lines) ..."""
BACKUPS = 2
"""... keeping this many older files (``gpt2q.log.1`` the newest)."""
RETRY_AFTER = 20
"""A rotation that failed is tried again once the file has grown by this fraction (1/20) of its size limit."""
_OWN = "_gpt2q_own"  # marks the handlers set up here, so other handlers (the window's log pane) don't count


class SharedRotatingFileHandler(logging.handlers.RotatingFileHandler):
    """A rotating log file that the window and ``gpt2q`` commands write at the same time. On Windows a file another
    process has open cannot be renamed (WinError 32): the standard handler then loses that record and every later
    one ("--- Logging error ---"); this one writes on to the current file and tries the rotation again once the
    file has grown a little (:data:`RETRY_AFTER`)."""

    _next_try = 0

    def shouldRollover(self, record: logging.LogRecord) -> bool:  # noqa: N802 - logging's name
        return bool(super().shouldRollover(record)) and self.stream.tell() >= self._next_try

    def doRollover(self) -> None:  # noqa: N802 - logging's name
        try:
            super().doRollover()
        except OSError:
            if self.stream is None:  # closed for the rename: the same file again, appended to
                self.stream = self._open()
            self._next_try = self.stream.seek(0, 2) + self.maxBytes // RETRY_AFTER
        else:
            self._next_try = 0


def log_file() -> Path:
    return data_dir() / "logs" / "gpt2q.log"


def setup_logging(verbose: bool = False) -> Path | None:
    """Log everything to a rotating file; echo warnings (or, if *verbose*, info) on stderr. Called again, it
    replaces the handlers it set up before (the data directory or *verbose* may have changed). Returns the log
    file, or None if it cannot be written."""
    log = logging.getLogger(LOGGER)
    log.setLevel(logging.DEBUG)
    for handler in [h for h in log.handlers if getattr(h, _OWN, False)]:
        log.removeHandler(handler)
        handler.close()
    console = logging.StreamHandler()
    console.setLevel(logging.INFO if verbose else logging.WARNING)
    console.setFormatter(logging.Formatter("gpt2q: %(message)s"))
    setattr(console, _OWN, True)
    log.addHandler(console)
    path = log_file()
    try:
        path.parent.mkdir(parents=True, exist_ok=True)
        handler = SharedRotatingFileHandler(path, maxBytes=MAX_BYTES, backupCount=BACKUPS, encoding="utf-8")
    except OSError:
        return None
    handler.setFormatter(logging.Formatter("%(asctime)s %(levelname)s %(threadName)s %(message)s"))
    setattr(handler, _OWN, True)
    log.addHandler(handler)
    return path
