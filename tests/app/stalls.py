"""Watching the event loop: a 10 ms timer on the GUI thread, and the gaps between its ticks.

A gap over :data:`STALL_S` is a stall. Code that blocks the GUI thread (or holds Python's GIL from another thread)
stalls it every time it runs, for as long as it runs; a machine busy with other programs may also deschedule the
GUI thread now and then. So a watch is responsive when it saw at most :data:`MAX_STALLS` stalls and none reaching
:data:`FREEZE_S`: a count of stalls, not a bound on the one longest gap, which a loaded CI machine breaks by itself.
"""

from __future__ import annotations

import time
from collections.abc import Iterator
from contextlib import contextmanager
from dataclasses import dataclass, field

from PySide6.QtCore import QTimer

STALL_S = 0.1
MAX_STALLS = 2
FREEZE_S = 0.5


@dataclass
class Ticks:
    """What one watch saw: its start and the time of each tick (the last mark is the watch's end)."""

    start: float
    marks: list[float] = field(default_factory=list)

    @property
    def elapsed(self) -> float:
        return self.marks[-1] - self.start

    @property
    def gaps(self) -> list[float]:
        marks = [self.start, *self.marks]
        return [b - a for a, b in zip(marks, marks[1:])]

    @property
    def stalls(self) -> list[float]:
        return [gap for gap in self.gaps if gap > STALL_S]

    def responsive(self) -> bool:
        return len(self.stalls) <= MAX_STALLS and max(self.gaps) < FREEZE_S

    def describe(self, what: str) -> str:
        shown = ", ".join(f"{gap * 1000:.0f} ms" for gap in self.stalls)
        return f"the event loop stalled {len(self.stalls)} times over {STALL_S * 1000:.0f} ms ({shown}) while {what}"


@contextmanager
def stall_watch() -> Iterator[Ticks]:
    """Ticks a 10 ms timer while the body runs; the :class:`Ticks` it yields is complete when the body ends."""
    ticks = Ticks(time.perf_counter())
    timer = QTimer()
    timer.setInterval(10)
    timer.timeout.connect(lambda: ticks.marks.append(time.perf_counter()))
    timer.start()
    try:
        yield ticks
    finally:
        timer.stop()
        ticks.marks.append(time.perf_counter())
