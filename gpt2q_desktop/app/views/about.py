"""The About box: the app and the versions of what it runs on."""

from __future__ import annotations

from importlib import metadata

from PySide6 import __version__ as pyside_version
from PySide6.QtCore import Qt, qVersion
from PySide6.QtWidgets import QMessageBox, QWidget

from ...version import __version__
from ..icon import app_icon


def _version(package: str) -> str:
    try:
        return metadata.version(package)
    except metadata.PackageNotFoundError:
        return "not installed"


def versions() -> dict[str, str]:
    """Read from package metadata, so opening the box never imports torch."""
    return {
        "gpt2q desktop": __version__,
        **{package: _version(package) for package in "torch transformers onnxruntime".split()},
        "Qt": qVersion(),
        "PySide6": pyside_version,
    }


def about_box(parent: QWidget) -> QMessageBox:
    """A non-modal About box (the caller shows it)."""
    rows = "".join(f"<tr><td>{name}</td><td>&nbsp;{value}</td></tr>" for name, value in versions().items())
    box = QMessageBox(parent)
    box.setWindowTitle("About gpt2q desktop")
    box.setIconPixmap(app_icon().pixmap(64, 64))
    box.setWindowModality(Qt.WindowModality.NonModal)
    box.setAttribute(Qt.WidgetAttribute.WA_DeleteOnClose)
    box.setTextFormat(Qt.TextFormat.RichText)
    box.setText(
        "<b>gpt2q desktop</b><br>Quantize a GPT-2 student to INT8 on the CPU and compare FP32 with INT8 "
        f"side by side.<br><br><table>{rows}</table>"
    )
    return box
