"""Windows ``.ico`` and macOS ``.icns`` icon files, written from PNG images (no Pillow needed) and read back.

Both containers hold PNG-compressed images, as Windows Vista+ and macOS 10.7+ read them:

* ``.ico``: a 6-byte header, one 16-byte entry per size (width and height 0 mean 256), then the PNGs;
* ``.icns``: ``icns`` and the file's length, then per image a 4-byte type, its length and the PNG. The types
  are those ``iconutil`` and Pillow write for PNG data, so each pixel size has its 1x and 2x (Retina) names.
"""

from __future__ import annotations

import struct
from collections.abc import Mapping

ICO_SIZES = (16, 20, 24, 32, 40, 48, 64, 256)
"""The sizes Windows asks for: Explorer's views, the taskbar and title bar at 100-200 % scaling."""

ICNS_TYPES = {
    b"ic11": 32,  # 16x16@2x
    b"ic12": 64,  # 32x32@2x
    b"ic07": 128,
    b"ic13": 256,  # 128x128@2x
    b"ic08": 256,
    b"ic14": 512,  # 256x256@2x
    b"ic09": 512,
    b"ic10": 1024,  # 512x512@2x
}
"""Each ``.icns`` image type and its size in pixels."""

ICNS_SIZES = tuple(sorted(set(ICNS_TYPES.values())))
PNG_SIGNATURE = b"\x89PNG\r\n\x1a\n"


def _check_png(size: int, png: bytes) -> None:
    if not png.startswith(PNG_SIGNATURE):
        raise ValueError(f"the {size}x{size} image is not a PNG")
    width, height = struct.unpack(">II", png[16:24])
    if (width, height) != (size, size):
        raise ValueError(f"the {size}x{size} image is {width}x{height}")


def ico_bytes(pngs: Mapping[int, bytes]) -> bytes:
    """An ``.ico`` file holding *pngs* (size in pixels → PNG bytes), smallest first."""
    sizes = sorted(pngs)
    offset = 6 + 16 * len(sizes)
    header = struct.pack("<HHH", 0, 1, len(sizes))
    entries, images = b"", b""
    for size in sizes:
        if not 1 <= size <= 256:
            raise ValueError(f"an .ico image is 1 to 256 pixels wide, not {size}")
        png = pngs[size]
        _check_png(size, png)
        side = 0 if size == 256 else size
        entries += struct.pack("<BBBBHHII", side, side, 0, 0, 1, 32, len(png), offset + len(images))
        images += png
    return header + entries + images


def read_ico(data: bytes) -> dict[int, bytes]:
    """The images of an ``.ico`` file: size in pixels → PNG bytes (ValueError if it is not one this module
    writes: a bitmap entry, a non-square one, a truncated file)."""
    reserved, kind, count = struct.unpack_from("<HHH", data, 0)
    if reserved != 0 or kind != 1:
        raise ValueError("not an .ico file")
    images: dict[int, bytes] = {}
    for i in range(count):
        width, height, _, _, _, _, length, offset = struct.unpack_from("<BBBBHHII", data, 6 + 16 * i)
        if width != height:
            raise ValueError(f"entry {i} is {width}x{height}, not square")
        size = width or 256
        png = data[offset : offset + length]
        if len(png) != length:
            raise ValueError(f"entry {i} runs past the end of the file")
        _check_png(size, png)
        images[size] = png
    return images


def icns_bytes(pngs: Mapping[int, bytes]) -> bytes:
    """An ``.icns`` file with every type of :data:`ICNS_TYPES`, from *pngs* (size in pixels → PNG bytes)."""
    missing = sorted(set(ICNS_SIZES) - set(pngs))
    if missing:
        raise ValueError(f"an .icns file needs the sizes {missing}")
    body = b""
    for kind, size in ICNS_TYPES.items():
        _check_png(size, pngs[size])
        body += kind + struct.pack(">I", 8 + len(pngs[size])) + pngs[size]
    return b"icns" + struct.pack(">I", 8 + len(body)) + body


def read_icns(data: bytes) -> dict[bytes, bytes]:
    """The images of an ``.icns`` file: type → PNG bytes (ValueError on a wrong length or a non-PNG image of a
    type this module writes; other types are skipped)."""
    if data[:4] != b"icns" or struct.unpack_from(">I", data, 4)[0] != len(data):
        raise ValueError("not an .icns file, or its length is wrong")
    images: dict[bytes, bytes] = {}
    offset = 8
    while offset < len(data):
        kind, length = data[offset : offset + 4], struct.unpack_from(">I", data, offset + 4)[0]
        if length < 8 or offset + length > len(data):
            raise ValueError(f"the {kind!r} image runs past the end of the file")
        if kind in ICNS_TYPES:
            png = data[offset + 8 : offset + length]
            _check_png(ICNS_TYPES[kind], png)
            images[kind] = png
        offset += length
    return images
