"""Opening files safely: only regular files, never a FIFO, device or socket that would block a read forever."""

from __future__ import annotations

import errno
import json
import os
import stat
from pathlib import Path
from typing import IO, Any


class NotARegularFile(OSError):
    """*path* is not a regular file; ``str()`` says what it is instead."""


def _what(mode: int) -> str:
    if stat.S_ISDIR(mode):
        return "is a folder, not a file"
    if stat.S_ISFIFO(mode):
        return "is a named pipe (FIFO), not a file"
    if stat.S_ISSOCK(mode):
        return "is a socket, not a file"
    return "is a device, not a file"


def file_problem(path: Path) -> str | None:
    """None when *path* is a regular file (symlinks followed); otherwise what it is instead, in words."""
    try:
        mode = os.stat(path).st_mode
    except FileNotFoundError:
        return "does not exist"
    except OSError as exc:
        if exc.errno == errno.ELOOP:
            return "is a symbolic link loop"
        return f"cannot be read ({exc.strerror or exc})"
    return None if stat.S_ISREG(mode) else _what(mode)


def is_regular_file(path: Path) -> bool:
    return file_problem(path) is None


def open_regular(path: Path, mode: str = "rb", **kwargs: Any) -> IO[Any]:
    """Open *path* for reading only if it is a regular file, checked on the opened descriptor (no race, and a
    FIFO without writer does not block: it is opened non-blocking, then refused). :class:`NotARegularFile`
    otherwise; other ``OSError`` as :func:`open` raises them."""
    flags = os.O_RDONLY | getattr(os, "O_NONBLOCK", 0) | getattr(os, "O_BINARY", 0)
    fd = os.open(path, flags)
    try:
        st_mode = os.fstat(fd).st_mode
        if not stat.S_ISREG(st_mode):
            raise NotARegularFile(errno.EINVAL, f"{path} {_what(st_mode)}")
        if hasattr(os, "set_blocking"):
            os.set_blocking(fd, True)
        return os.fdopen(fd, mode, **kwargs)
    except BaseException:
        os.close(fd)
        raise


def read_regular_text(path: Path) -> str:
    """The UTF-8 text of the regular file *path* (``NotARegularFile``, ``OSError``, ``UnicodeDecodeError``)."""
    with open_regular(path, "r", encoding="utf-8") as fh:
        return fh.read()


def _unique_pairs(pairs: list[tuple[str, Any]]) -> dict[str, Any]:
    """A JSON object's members as a dict; ``ValueError`` naming a key the object lists twice."""
    out: dict[str, Any] = {}
    for key, value in pairs:
        if key in out:
            raise ValueError(f"it lists the key {key!r} twice")
        out[key] = value
    return out


def read_json(path: Path, limit: int, unique_keys: bool = False) -> Any:
    """The JSON value in the regular file *path* of at most *limit* characters; ``OSError`` (also for a FIFO,
    device, socket or folder, without blocking) or ``ValueError`` (bad UTF-8, bad JSON, too large, too deep, or
    with *unique_keys* an object that lists a key twice: JSON keeps the last silently)."""
    with open_regular(path, "r", encoding="utf-8") as fh:
        text = fh.read(limit + 1)
    if len(text) > limit:
        raise ValueError(f"larger than {limit:,} characters")
    try:
        return json.loads(text, object_pairs_hook=_unique_pairs if unique_keys else None)
    except RecursionError as exc:
        raise ValueError("nested too deeply") from exc
