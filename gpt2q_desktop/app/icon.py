"""The application icon, from the PNG sizes shipped in ``resources/icons``."""

from __future__ import annotations

from PySide6.QtGui import QIcon

from ..core.paths import resources_dir

ICON_NAME = "gpt2q-desktop"
SIZES = (16, 32, 48, 64, 128, 256)


def app_icon() -> QIcon:
    """The icon of the window, the About box and the desktop entry (empty if the files are missing)."""
    icon = QIcon()
    for size in SIZES:
        path = resources_dir() / "icons" / f"{ICON_NAME}-{size}.png"
        if path.is_file():
            icon.addFile(str(path))
    return icon
