"""Render resources/icons/gpt2q-desktop.svg to the icon files the app, the desktop entry and the bundles use.

    .venv/bin/python packaging/render_icons.py          # writes resources/icons/gpt2q-desktop-<N>.png, .ico, .icns
    .venv/bin/python packaging/render_icons.py --check  # exit 1 if one of them is missing or stale

The PNGs serve the window and the Linux desktop entry; ``gpt2q-desktop.ico`` (Windows: the executables' icon)
and ``gpt2q-desktop.icns`` (macOS: the .app's icon) hold PNGs of their platform's sizes (packaging/icon_files.py).
Uses Qt's own SVG renderer (PySide6.QtSvg, part of PySide6-Essentials), offscreen: no display, no Pillow.
"""

from __future__ import annotations

import argparse
import os
import sys
from pathlib import Path

sys.path.insert(0, str(Path(__file__).resolve().parent))
from icon_files import ICNS_SIZES, ICNS_TYPES, ICO_SIZES, icns_bytes, ico_bytes, read_icns, read_ico  # noqa: E402

del sys.path[0]

SIZES = (16, 32, 48, 64, 128, 256)
NAME = "gpt2q-desktop"
ICONS = Path(__file__).resolve().parents[1] / "resources" / "icons"


def render(svg: Path, size: int):
    from PySide6.QtCore import Qt
    from PySide6.QtGui import QImage, QPainter
    from PySide6.QtSvg import QSvgRenderer

    renderer = QSvgRenderer(str(svg))
    if not renderer.isValid():
        raise SystemExit(f"{svg} is not a valid SVG")
    image = QImage(size, size, QImage.Format.Format_ARGB32_Premultiplied)
    image.fill(Qt.GlobalColor.transparent)
    painter = QPainter(image)
    painter.setRenderHint(QPainter.RenderHint.Antialiasing)
    painter.setRenderHint(QPainter.RenderHint.SmoothPixmapTransform)
    renderer.render(painter)
    painter.end()
    return image.convertToFormat(QImage.Format.Format_ARGB32)


def png_bytes(image) -> bytes:
    from PySide6.QtCore import QBuffer, QByteArray, QIODevice

    data = QByteArray()
    buffer = QBuffer(data)
    buffer.open(QIODevice.OpenModeFlag.WriteOnly)
    if not image.save(buffer, "PNG"):
        raise SystemExit("Qt could not encode a PNG")
    buffer.close()
    return bytes(data)


def decoded(png: bytes):
    from PySide6.QtGui import QImage

    return QImage.fromData(png, "PNG").convertToFormat(QImage.Format.Format_ARGB32)


def stale_files(images: dict) -> list[str]:
    """The icon files that are missing, unreadable, or whose images differ from *images* (size → QImage)."""
    stale = []
    for size in SIZES:
        png = ICONS / f"{NAME}-{size}.png"
        if not png.is_file() or decoded(png.read_bytes()) != images[size]:
            stale.append(png.name)
    containers = (
        (f"{NAME}.ico", read_ico, ICO_SIZES, lambda key: key),
        (f"{NAME}.icns", read_icns, ICNS_TYPES, ICNS_TYPES.get),
    )
    for name, read, keys, size_of in containers:
        try:
            inside = read((ICONS / name).read_bytes())
        except (OSError, ValueError):
            stale.append(name)
            continue
        if set(inside) != set(keys) or any(decoded(png) != images[size_of(key)] for key, png in inside.items()):
            stale.append(name)
    return stale


def write_files(images: dict) -> None:
    pngs = {size: png_bytes(image) for size, image in images.items()}
    files = {f"{NAME}-{size}.png": pngs[size] for size in SIZES}
    files[f"{NAME}.ico"] = ico_bytes({size: pngs[size] for size in ICO_SIZES})
    files[f"{NAME}.icns"] = icns_bytes({size: pngs[size] for size in ICNS_SIZES})
    for name, data in files.items():
        (ICONS / name).write_bytes(data)
        print(f"wrote resources/icons/{name} ({len(data)} bytes)")


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--check", action="store_true", help="only check that the icon files match the SVG")
    args = parser.parse_args(argv)
    os.environ.setdefault("QT_QPA_PLATFORM", "offscreen")
    from PySide6.QtGui import QGuiApplication

    app = QGuiApplication.instance() or QGuiApplication([sys.argv[0]])  # noqa: F841 (fonts, plugins)
    svg = ICONS / f"{NAME}.svg"
    images = {size: render(svg, size) for size in sorted({*SIZES, *ICO_SIZES, *ICNS_SIZES})}
    if not args.check:
        write_files(images)
        return 0
    stale = stale_files(images)
    if stale:
        print(f"stale or missing icons: {', '.join(stale)}; run packaging/render_icons.py", file=sys.stderr)
        return 1
    return 0


if __name__ == "__main__":
    sys.exit(main())
