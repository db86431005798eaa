"""The self-test's Qt check: paint a widget with the app icon, and the main window, offscreen."""

from __future__ import annotations

import os
import sys
from typing import Any

from ..icon import ICON_NAME
from .verdict import SelfTestFailure, say

_QT_APP: Any = None  # kept alive for the whole process


_QT_NOISE = ("does not support propagateSizeHints",)  # the offscreen platform's harmless complaint


def _quiet_qt_noise() -> None:
    """Drop the offscreen plugin's known noise from stderr; every other Qt message still goes there."""
    from PySide6.QtCore import QtMsgType, qInstallMessageHandler

    previous = None

    def handler(kind: Any, context: Any, message: str) -> None:
        if any(noise in message for noise in _QT_NOISE):
            return
        if previous is not None:
            previous(kind, context, message)
        elif sys.stderr is not None:
            level = {QtMsgType.QtDebugMsg: "debug", QtMsgType.QtInfoMsg: "info"}.get(kind, "warning")
            print(f"qt {level}: {message}", file=sys.stderr, flush=True)

    previous = qInstallMessageHandler(handler)


def check_qt() -> str:
    """Create (or reuse) a QApplication, paint a widget with the app icon into a QImage and inspect it.

    Proves the Qt platform plugin, the image-format/icon-engine plugins (SVG) and the bundled icon are
    usable. Headless: the offscreen platform is used unless QT_QPA_PLATFORM says otherwise.
    """
    app = _application()
    _paint_icon_widget(app, *_bundled_icon())
    window = _paint_main_window(app)
    return f"Qt painted ({app.platformName()}{', main window' if window else ''})"


def _application() -> Any:
    """The process's QApplication, created offscreen (unless QT_QPA_PLATFORM says otherwise) if there is none."""
    global _QT_APP
    os.environ.setdefault("QT_QPA_PLATFORM", "offscreen")
    from PySide6.QtWidgets import QApplication

    _quiet_qt_noise()
    app = QApplication.instance()
    if app is None:
        _QT_APP = app = QApplication([sys.argv[0] if sys.argv and sys.argv[0] else "gpt2q-desktop"])
    elif not isinstance(app, QApplication):
        raise SelfTestFailure(f"a {type(app).__name__} exists already; widgets need a QApplication")
    return app


def _bundled_icon() -> tuple[Any, Any]:
    """The app icon from the bundled SVG and a 64-pixel rendering of it; the PNG must be readable too."""
    from PySide6.QtCore import QSize
    from PySide6.QtGui import QIcon, QImage, QImageReader

    from gpt2q_desktop.core.paths import resources_dir

    icons = resources_dir() / "icons"
    svg, png = icons / f"{ICON_NAME}.svg", icons / f"{ICON_NAME}-256.png"
    for path in (svg, png):
        if not path.is_file():
            raise SelfTestFailure(f"the app icon {path} is missing")
    formats = {bytes(f).decode() for f in QImageReader.supportedImageFormats()}
    if "svg" not in formats:
        raise SelfTestFailure(f"Qt cannot read SVG images (image formats: {', '.join(sorted(formats))}); the svg plugin is missing")
    icon = QIcon(str(svg))
    pixmap = icon.pixmap(QSize(64, 64))
    if pixmap.isNull():
        raise SelfTestFailure(f"Qt could not render the SVG icon {svg}")
    if QImage(str(png)).isNull():
        raise SelfTestFailure(f"Qt could not read the PNG icon {png}")
    return icon, pixmap


def _paint_icon_widget(app: Any, icon: Any, pixmap: Any) -> None:
    """Show a white widget holding *pixmap*, render it into an image and check that both were painted."""
    from PySide6.QtCore import Qt
    from PySide6.QtGui import QColor, QImage, QPalette
    from PySide6.QtWidgets import QHBoxLayout, QLabel, QWidget

    widget = QWidget()
    widget.setWindowTitle("gpt2q-desktop self-test")
    widget.setWindowIcon(icon)
    widget.setAutoFillBackground(True)
    palette = widget.palette()
    palette.setColor(QPalette.ColorRole.Window, QColor("#ffffff"))
    widget.setPalette(palette)
    layout = QHBoxLayout(widget)
    picture = QLabel()
    picture.setPixmap(pixmap)
    layout.addWidget(picture)
    layout.addWidget(QLabel("gpt2q-desktop self-test"))
    widget.resize(320, 96)
    widget.show()
    app.processEvents()
    image = QImage(widget.size(), QImage.Format.Format_ARGB32)
    image.fill(Qt.GlobalColor.black)
    widget.render(image)
    widget.close()
    widget.deleteLater()
    app.processEvents()
    colours = _colours(image)
    if QColor("#ffffff").rgba() not in colours:
        raise SelfTestFailure("the widget was not painted (no background in the rendered image)")
    if len(colours) < 3:
        raise SelfTestFailure("the rendered widget holds no icon (a single flat colour)")


def _colours(image: Any) -> set[int]:
    return {image.pixel(x, y) for x in range(0, image.width(), 2) for y in range(0, image.height(), 2)}


_WINDOW_MODULES = {
    "gpt2q_desktop.app",
    "gpt2q_desktop.app.views",
    "gpt2q_desktop.app.views.main_window",
    "gpt2q_desktop.app.models",
    "gpt2q_desktop.app.models.history_model",
}


def _paint_main_window(app: Any) -> bool:
    """Build the app's main window (without its job runner), show and paint it offscreen; False if absent.

    Only a window module that does not exist at all is skipped: anything else missing (a module a
    bundle left out, a broken widget) fails the self-test.
    """
    try:
        from ..models.history_model import HistoryModel
        from ..views.main_window import MainWindow
    except ModuleNotFoundError as exc:
        if exc.name in _WINDOW_MODULES:
            say(f"no main window to paint ({exc.name} is absent)")
            return False
        raise
    history = HistoryModel()
    window = MainWindow(history)
    history.setParent(window)
    window.show()
    app.processEvents()
    image = window.grab().toImage()
    window.close()
    window.deleteLater()
    app.processEvents()
    if image.isNull() or image.width() < 100 or len(_colours(image)) < 3:
        raise SelfTestFailure("the main window did not paint")
    return True
