"""``gpt2q-desktop``: build the window, paint it, then open the checkpoint (torch loads on the worker thread).

On Windows torch is imported before Qt, as this module is imported (:func:`~..core.platforms.import_torch_first`):
since torch 2.9 the other order can fail to load ``c10.dll``. There the window paints a little later.
"""

from __future__ import annotations

import argparse
import logging
import os
import sys
from collections.abc import Sequence
from types import TracebackType

from gpt2q_desktop.core.platforms import import_torch_first

TORCH_PROBLEM = import_torch_first()
"""Why torch cannot load (its DLLs, on Windows), found before Qt is imported; None when it loads or is not loaded
yet."""

from PySide6.QtCore import QTimer  # noqa: E402 - after torch, on Windows
from PySide6.QtGui import QGuiApplication  # noqa: E402
from PySide6.QtWidgets import QApplication, QMessageBox  # noqa: E402

from gpt2q_desktop.core.logs import LOGGER, setup_logging  # noqa: E402

from ..version import __version__  # noqa: E402
from .controllers.main_controller import MainController  # noqa: E402
from .gc_guard import MainThreadCollector  # noqa: E402
from .icon import ICON_NAME, app_icon  # noqa: E402
from .models.history_model import HistoryModel  # noqa: E402
from .platform_check import xcb_problem  # noqa: E402
from .settings import APPLICATION, ORGANIZATION, AppSettings  # noqa: E402
from .views.main_window import APP_TITLE, MainWindow  # noqa: E402
from .worker import JobRunner  # noqa: E402

ENV_QUIT_AFTER_MS = "GPT2Q_QUIT_AFTER_MS"
"""Close the window after this many milliseconds (smoke checks)."""

log = logging.getLogger(LOGGER)


def build() -> MainController:
    """The window (restored, not shown yet), its history, the worker thread and the controller that joins them."""
    history = HistoryModel()
    window = MainWindow(history)
    history.setParent(window)
    controller = MainController(window, history, AppSettings(), JobRunner(window))
    controller.restore_window()
    return controller


def _parser() -> argparse.ArgumentParser:
    parser = argparse.ArgumentParser(prog="gpt2q-desktop", description="Compare a GPT-2 student in FP32 and INT8.")
    parser.add_argument(
        "checkpoint", nargs="?", help="checkpoint folder (default: the last one used, or the demo student)"
    )
    parser.add_argument("--version", action="version", version=f"gpt2q-desktop {__version__}")
    return parser


def _install_excepthook(controller: MainController) -> None:
    """Unexpected errors in the UI thread go to the log and to one plain message; the app keeps running."""

    def hook(kind: type[BaseException], exc: BaseException, tb: TracebackType | None) -> None:
        log.error("unexpected error in the window", exc_info=(kind, exc, tb))
        controller.window.notify_error(f"Unexpected error ({kind.__name__}: {exc}). Details are in the log.")

    sys.excepthook = hook


def _cannot_start(problem: str, self_test: bool) -> int:
    """Torch's DLLs did not load: say why and what to do, in the log, on stderr and (unless this is the self-test)
    in a message box, as the window program has no console on Windows."""
    setup_logging()
    log.error("%s", problem)
    if self_test:
        return 1
    app = QApplication.instance() or QApplication([sys.argv[0]])
    app.setApplicationDisplayName(APP_TITLE)
    QMessageBox.critical(None, APP_TITLE, problem)
    return 1


def main(argv: Sequence[str] | None = None) -> int:
    """Run the window (or, with ``--self-test``, the self-test); returns the exit code."""
    args = list(sys.argv[1:] if argv is None else argv)
    if TORCH_PROBLEM:
        return _cannot_start(TORCH_PROBLEM, "--self-test" in args)
    if "--self-test" in args:
        from .selftest.run import run as self_test  # imported only when asked for

        return int(self_test(args))
    options, qt_args = _parser().parse_known_args(args)
    setup_logging()
    problem = None if QApplication.instance() else xcb_problem()
    if problem:  # Qt's own message would name the wrong library, then abort
        log.error("%s", problem)  # one line on stderr, and in the log file
        return 1
    app = QApplication.instance() or QApplication([sys.argv[0], *qt_args])
    app.setOrganizationName(ORGANIZATION)
    app.setApplicationName(APPLICATION)
    app.setApplicationDisplayName(APP_TITLE)
    app.setApplicationVersion(__version__)
    app.setWindowIcon(app_icon())
    QGuiApplication.setDesktopFileName(ICON_NAME)  # matches resources/gpt2q-desktop.desktop
    collector = MainThreadCollector(app)  # before the worker thread starts allocating
    controller = build()
    app.aboutToQuit.connect(controller.runner.shutdown)
    app.aboutToQuit.connect(collector.stop)
    _install_excepthook(controller)
    controller.window.show()
    app.processEvents()  # paint before anything else happens
    QTimer.singleShot(0, lambda: controller.start(options.checkpoint))
    quit_after = os.environ.get(ENV_QUIT_AFTER_MS)
    if quit_after:
        QTimer.singleShot(int(quit_after), controller.window.close)
    return app.exec()


if __name__ == "__main__":
    sys.exit(main())
