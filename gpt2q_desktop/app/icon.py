"""The application icon, from the PNG sizes and the SVG shipped in ``resources/icons``."""

from __future__ import annotations

from PySide6.QtGui import QIcon

from gpt2q_desktop.core.paths import resources_dir

ICON_NAME = "gpt2q-desktop"
SIZES = (16, 32, 48, 64, 128, 256)


def app_icon() -> QIcon:
    """The icon of the window, the About box and the desktop entry (empty if the files are missing)."""
    icons = resources_dir() / "icons"
    icon = QIcon()
    for path in [icons / f"{ICON_NAME}-{size}.png" for size in SIZES] + [icons / f"{ICON_NAME}.svg"]:
        if path.is_file():
            icon.addFile(str(path))  # the SVG serves the sizes between and beyond the PNGs
    return icon
