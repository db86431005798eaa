"""What every command writes besides its results: progress and notes on stderr, one line each."""

from __future__ import annotations

import codecs
import sys
import time
from typing import TextIO

from gpt2q_desktop.core.text import printable


class StderrProgress:
    """``progress(done, total, message)`` on stderr: one redrawn line on a tty; otherwise a line at the first
    and last step of each phase and in between only every :attr:`EVERY_FRACTION` of it or :attr:`EVERY_SECONDS`."""

    EVERY_FRACTION = 0.1
    EVERY_SECONDS = 10.0

    def __init__(self, stream: TextIO | None = None) -> None:
        self.stream = stream or sys.stderr  # looked up now: sys.stderr may have been replaced since import
        self.tty = self.stream.isatty()
        self._last = (-1, -1, 0.0)  # total, done and time of the last line written (not on a tty)

    def __call__(self, done: int, total: int, message: str) -> None:
        text = f"[{done:>3}/{total}] {printable(message)}"
        if self.tty:
            self.stream.write("\r\033[K" + text + ("\n" if done >= total else ""))
        elif self._due(done, total):
            self.stream.write(text + "\n")
        self.stream.flush()

    def _due(self, done: int, total: int) -> bool:
        """Whether a non-tty line is due: a new phase, its last step, or enough steps or time since the last."""
        last_total, last_done, last_time = self._last
        now = time.monotonic()
        due = (
            total != last_total or done < last_done or done >= total
            or done - last_done >= total * self.EVERY_FRACTION or now - last_time >= self.EVERY_SECONDS
        )  # fmt: skip
        if due:
            self._last = (total, done, now)
        return due


def err(text: str) -> None:
    """One line on stderr, with control and bidi characters made visible."""
    print(printable(text), file=sys.stderr)


def notes(lines: list[str], first: str = "") -> None:
    if first:
        err(first)
    for note in lines:
        err(f"note: {note}")


def print_data(text: str, out: TextIO) -> None:
    """JSON or CSV *text* (and a newline) on *out*, exact: a file or pipe whose encoding is not UTF-8 (cp1252 on
    Windows) gets the UTF-8 bytes rather than escapes or a crash; a terminal gets text it can show."""
    buffer = getattr(out, "buffer", None)
    encoding = codecs.lookup(getattr(out, "encoding", None) or "utf-8").name
    if encoding == "utf-8" or buffer is None or out.isatty():
        print(text, file=out)
        return
    out.flush()
    buffer.write((text + "\n").encode("utf-8"))
    buffer.flush()
