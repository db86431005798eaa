"""Fixtures for the window tests: isolated settings, captured message boxes and questions, a started window."""

from __future__ import annotations

from collections.abc import Callable, Iterator
from dataclasses import dataclass, field
from pathlib import Path

import pytest

from gpt2q_desktop.app.controllers.main_controller import MainController
from gpt2q_desktop.app.gc_guard import MainThreadCollector
from gpt2q_desktop.app.main import build
from gpt2q_desktop.app.views.main_window import MainWindow
from gpt2q_desktop.core.options import RunSettings

JOB_TIMEOUT_MS = 120_000
FAST_RUN = RunSettings(repeats=2, warmup=0, threads=1, top_k=5)


@pytest.fixture(autouse=True)
def settings_file(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> Path:
    """Every test remembers its window state in its own INI file."""
    path = tmp_path / "settings" / "gpt2q-desktop.ini"
    monkeypatch.setenv("GPT2Q_SETTINGS_FILE", str(path))
    return path


@pytest.fixture(autouse=True)
def main_thread_gc(qapp) -> Iterator[MainThreadCollector]:
    """As in the app: garbage is collected on the GUI thread only (set up first, torn down last)."""
    collector = MainThreadCollector(qapp)
    yield collector
    collector.stop()
    collector.deleteLater()


@pytest.fixture
def boxes(monkeypatch: pytest.MonkeyPatch) -> list[str]:
    """The texts the window would have shown in message boxes (none is opened)."""
    shown: list[str] = []
    monkeypatch.setattr(MainWindow, "show_message_box", lambda self, title, text: shown.append(text))
    return shown


@dataclass
class Questions:
    asked: list[str] = field(default_factory=list)
    answers: list[bool] = field(default_factory=list)
    """What the user answers, in turn."""


@pytest.fixture
def questions(monkeypatch: pytest.MonkeyPatch) -> Questions:
    """The questions the window would have asked (none is opened), and the answers it gets."""
    questions = Questions()

    def confirm(self, title: str, text: str) -> bool:
        questions.asked.append(text)
        return questions.answers.pop(0)

    monkeypatch.setattr(MainWindow, "confirm", confirm)
    return questions


@pytest.fixture
def run(qtbot) -> Callable[[MainController, Callable[[], object]], None]:
    """``run(controller, action)``: start a job through *action*, wait until the worker is idle again."""

    def run_job(controller: MainController, action: Callable[[], object]) -> None:
        with qtbot.waitSignal(controller.idle, timeout=JOB_TIMEOUT_MS):
            action()

    return run_job


@pytest.fixture
def make_app(qtbot, boxes: list[str], run) -> Iterator[Callable[..., MainController]]:
    """Build, show and start windows (none opens the demo student); all are closed at the end."""
    made: list[MainController] = []

    def make(checkpoint: Path | None = None, restore: bool = False) -> MainController:
        controller = build()
        qtbot.addWidget(controller.window)
        controller.window.show()
        made.append(controller)
        controller.start(str(checkpoint) if checkpoint else None, restore=restore)
        qtbot.waitUntil(lambda: not controller.busy, timeout=JOB_TIMEOUT_MS)
        controller.window.compare_panel.set_settings(FAST_RUN)
        return controller

    yield make
    for controller in made:
        controller.window.close()


def of_job(kind: type) -> Callable[..., bool]:
    """A ``check_params_cb`` for the worker's ``(job, ...)`` signals: true for jobs of *kind* only."""
    return lambda job, *rest: isinstance(job, kind)
