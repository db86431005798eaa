"""Turn an ``xwd`` screen dump (24/32-bit TrueColor, as Xvfb makes) into a PNG and check it is not blank.

    python packaging/xwd_to_png.py screen.xwd screen.png [--min-coverage 0.3] [--min-colours 16]

Exit 1 if less than *min-coverage* of the screen differs from its corner colour (the bare root window)
or it holds fewer than *min-colours* distinct colours: then nothing (or an empty frame) was painted.
Needs numpy and PySide6 only, so a CI machine needs no ImageMagick.
"""

from __future__ import annotations

import argparse
import struct
import sys
from pathlib import Path

import numpy as np

HEADER_FIELDS = 25  # 32-bit big-endian fields before the window name


def read_xwd(path: Path) -> np.ndarray:
    """The dump as an (height, width) array of 0xRRGGBB pixels."""
    data = path.read_bytes()
    if len(data) < HEADER_FIELDS * 4:
        raise ValueError(f"{path} is too short to be an xwd dump")
    fields = struct.unpack(">25I", data[: HEADER_FIELDS * 4])
    header_size, version, _fmt, _depth, width, height = fields[:6]
    byte_order, bits_per_pixel, bytes_per_line = fields[7], fields[11], fields[12]
    ncolors = fields[19]
    if version != 7:
        raise ValueError(f"{path}: xwd version {version}, expected 7")
    # Xvfb's 24-bit screen dumps as 32 bits a pixel, or packed 24 bits (3 bytes) once a client has
    # created a 24-bit visual; rows are bytes_per_line long either way.
    step = bits_per_pixel // 8
    if step not in (3, 4) or bytes_per_line < width * step:
        raise ValueError(f"{path}: {bits_per_pixel} bits per pixel; run Xvfb with a 24-bit screen (-screen 0 WxHx24)")
    start = header_size + ncolors * 12
    rows = np.frombuffer(data, dtype=np.uint8, count=bytes_per_line * height, offset=start).reshape(height, bytes_per_line)
    px = rows[:, : width * step].reshape(height, width, step).astype(np.uint32)
    if byte_order == 0:  # LSBFirst: blue, green, red(, pad)
        b, g, r = px[..., 0], px[..., 1], px[..., 2]
    else:
        r, g, b = px[..., step - 3], px[..., step - 2], px[..., step - 1]
    return (r << 16) | (g << 8) | b


def save_png(pixels: np.ndarray, out: Path) -> None:
    from PySide6.QtGui import QImage

    argb = np.ascontiguousarray(pixels | 0xFF000000, dtype="<u4")
    height, width = argb.shape
    image = QImage(argb.data, width, height, width * 4, QImage.Format.Format_ARGB32)
    if not image.copy().save(str(out), "PNG"):
        raise OSError(f"cannot write {out}")


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("xwd", type=Path)
    parser.add_argument("png", type=Path)
    parser.add_argument("--min-coverage", type=float, default=0.3)
    parser.add_argument("--min-colours", type=int, default=16)
    args = parser.parse_args(argv)
    pixels = read_xwd(args.xwd)
    args.png.parent.mkdir(parents=True, exist_ok=True)
    save_png(pixels, args.png)
    background = pixels[-1, -1]
    coverage = float((pixels != background).mean())
    colours = int(np.unique(pixels).size)
    print(f"{args.png}: {pixels.shape[1]}x{pixels.shape[0]}, {coverage:.0%} painted, {colours} colours")
    if coverage < args.min_coverage or colours < args.min_colours:
        print(
            f"the screen looks blank (painted {coverage:.0%} < {args.min_coverage:.0%} "
            f"or {colours} colours < {args.min_colours})",
            file=sys.stderr,
        )
        return 1
    return 0


if __name__ == "__main__":
    sys.exit(main())
