"""Render resources/icons/gpt2q-desktop.svg to the PNG sizes the app, the desktop entry and the bundle use.

    .venv/bin/python packaging/render_icons.py          # writes resources/icons/gpt2q-desktop-<N>.png
    .venv/bin/python packaging/render_icons.py --check  # exit 1 if a PNG is missing or stale

Uses Qt's own SVG renderer (PySide6.QtSvg, part of PySide6-Essentials), offscreen: no display needed.
"""

from __future__ import annotations

import argparse
import os
import sys
from pathlib import Path

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


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--check", action="store_true", help="only check that the PNGs match the SVG")
    args = parser.parse_args(argv)
    os.environ.setdefault("QT_QPA_PLATFORM", "offscreen")
    from PySide6.QtGui import QGuiApplication, QImage

    app = QGuiApplication.instance() or QGuiApplication([sys.argv[0]])  # noqa: F841 (fonts, plugins)
    svg = ICONS / f"{NAME}.svg"
    stale = []
    for size in SIZES:
        png = ICONS / f"{NAME}-{size}.png"
        image = render(svg, size)
        if args.check:
            if not png.is_file() or QImage(str(png)).convertToFormat(QImage.Format.Format_ARGB32) != image:
                stale.append(png.name)
            continue
        if not image.save(str(png), "PNG"):
            raise SystemExit(f"cannot write {png}")
        print(f"wrote {png.relative_to(ICONS.parents[1])} ({png.stat().st_size} bytes)")
    if stale:
        print(f"stale or missing icons: {', '.join(stale)}; run packaging/render_icons.py", file=sys.stderr)
        return 1
    return 0


if __name__ == "__main__":
    sys.exit(main())
