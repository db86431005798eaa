"""Logging to a file in the data directory, so every error shown in one line has its details somewhere."""

from __future__ import annotations

import logging
import logging.handlers
from pathlib import Path

from .paths import data_dir

LOGGER = "gpt2q"
_OWN = "_gpt2q_own"  # marks the handlers set up here, so other handlers (the window's log pane) don't count


def log_file() -> Path:
    return data_dir() / "logs" / "gpt2q.log"


def setup_logging(verbose: bool = False) -> Path | None:
    """Log everything to a rotating file; echo warnings (or, if *verbose*, info) on stderr."""
    log = logging.getLogger(LOGGER)
    log.setLevel(logging.DEBUG)
    if any(getattr(h, _OWN, False) for h in log.handlers):
        return log_file()
    console = logging.StreamHandler()
    console.setLevel(logging.INFO if verbose else logging.WARNING)
    console.setFormatter(logging.Formatter("gpt2q: %(message)s"))
    setattr(console, _OWN, True)
    log.addHandler(console)
    path: Path | None = log_file()
    try:
        path.parent.mkdir(parents=True, exist_ok=True)
        handler = logging.handlers.RotatingFileHandler(path, maxBytes=2_000_000, backupCount=2, encoding="utf-8")
    except OSError:
        return None
    handler.setFormatter(logging.Formatter("%(asctime)s %(levelname)s %(threadName)s %(message)s"))
    setattr(handler, _OWN, True)
    log.addHandler(handler)
    return path
