"""What a feature controller needs from the main controller, as a protocol: no controller imports another."""

from __future__ import annotations

from typing import TYPE_CHECKING, Protocol

if TYPE_CHECKING:
    from ..views.main_window import MainWindow
    from ..worker import JobRunner


class Workbench(Protocol):
    """The window, the job runner, and the gate every job passes (a checkpoint open, nothing else running)."""

    window: MainWindow
    runner: JobRunner

    def can_work(self) -> bool:
        """True if a job may start now; otherwise the user is told why."""
        ...

    def cancel(self) -> None:
        """Cancel the running job, if any."""
        ...
