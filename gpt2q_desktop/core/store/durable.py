"""Durable file operations for the stores: checksums, synced writes, atomic renames and leftovers of dead writers."""

from __future__ import annotations

import ctypes
import hashlib
import logging
import os
import shutil
import sys
import tempfile
import time
from collections.abc import Callable
from pathlib import Path
from typing import Any

from gpt2q_desktop.core.errors import reason_of
from gpt2q_desktop.core.files import open_regular

log = logging.getLogger("gpt2q")
TMP_PREFIX = ".tmp-"
"""Names of the folders and files a writer assembles before renaming them into place."""
RENAME_PAUSES = (0.05, 0.1, 0.2, 0.4, 0.8)
"""Seconds waited before each new try of a rename Windows refused because another program holds a file."""
_WINDOWS_IN_USE = {5, 32}
"""``ERROR_ACCESS_DENIED`` (also a mapped file's), ``ERROR_SHARING_VIOLATION``."""


def in_use_on_windows(exc: BaseException) -> bool:
    """True when *exc* is Windows refusing to rename or delete a file because a program has it open or mapped (an
    antivirus or the search indexer for a moment, or a model loaded from it)."""
    return getattr(exc, "winerror", None) in _WINDOWS_IN_USE


def replace_retrying(source: str | Path, target: str | Path, pauses: tuple[float, ...] = RENAME_PAUSES) -> None:
    """``os.replace(source, target)``, tried again after each of *pauses* while Windows refuses it because another
    program holds a file; the last refusal raises a :class:`PermissionError` that says so. Other errors (and any
    error off Windows) are raised at once."""
    for tries, pause in enumerate((*pauses, None), start=1):
        try:
            os.replace(source, target)
        except OSError as exc:
            if not in_use_on_windows(exc):
                raise
            if pause is None:
                why = f"{exc.strerror or exc}; still refused after {tries} tries over {sum(pauses):.1f} s"
                raise PermissionError(exc.errno, f"{why}: another program holds the file", str(source)) from exc
            time.sleep(pause)
            continue
        if tries > 1:
            log.info("%s renamed on try %d (Windows refused it for a moment)", source, tries)
        return


def sha256_of(path: Path) -> str:
    """The sha256 of a regular file, read in 4 MiB chunks."""
    digest = hashlib.sha256()
    with open_regular(path, "rb") as fh:
        for chunk in iter(lambda: fh.read(1 << 22), b""):
            digest.update(chunk)
    return digest.hexdigest()


def fsync_dir(path: Path) -> None:
    """Make a rename inside *path* durable (best effort: not every OS or file system can sync a folder)."""
    try:
        fd = os.open(path, os.O_RDONLY)
    except OSError:
        return
    try:
        os.fsync(fd)
    except OSError:
        pass
    finally:
        os.close(fd)


def atomic_write_text(path: Path, text: str) -> None:
    """Write *text* to *path* through a synced temporary file renamed over it: a reader sees the old or the new."""
    fd, tmp = tempfile.mkstemp(dir=path.parent, prefix=TMP_PREFIX)
    try:
        with os.fdopen(fd, "w", encoding="utf-8") as fh:
            fh.write(text)
            fh.flush()
            os.fsync(fh.fileno())
        replace_retrying(tmp, path)
    except BaseException:
        Path(tmp).unlink(missing_ok=True)
        raise


def remove_path(path: Path) -> None:
    """Remove whatever is at *path*: a folder (not followed if it is a link), a file, or nothing."""
    if path.is_dir() and not path.is_symlink():
        shutil.rmtree(path)
    elif os.path.lexists(path):
        path.unlink()


def remove_folder(path: Path, last: str) -> None:
    """Remove the folder *path*, its file *last* last: when Windows will not delete a file (in use), *last* and the
    files after it are still there."""
    for child in sorted(path.iterdir(), key=lambda p: p.name == last):
        remove_path(child)
    path.rmdir()


def deletion_problem(exc: BaseException) -> str:
    """Why a file could not be deleted, in words: on Windows mostly that another program has it open."""
    if in_use_on_windows(exc):
        name = Path(getattr(exc, "filename", None) or "a file").name
        return f"{name} is in use by another program (a gpt2q window or command using this model, or an antivirus)"
    return reason_of(exc)


def link_target(path: Path) -> str | None:
    """Where the symbolic link *path* points (None when *path* is not a link)."""
    if not path.is_symlink():
        return None
    try:
        return os.readlink(path)
    except OSError as exc:
        return f"? ({exc.strerror or exc})"


def pid_alive(pid: int) -> bool:
    """True if a process with id *pid* exists. On Windows ``os.kill(pid, 0)`` would send Ctrl+C (signal 0 is
    ``CTRL_C_EVENT`` there), so the process is looked up instead."""
    if sys.platform == "win32":
        kernel32 = ctypes.WinDLL("kernel32", use_last_error=True)  # type: ignore[attr-defined]
        return _windows_pid_alive(pid, kernel32, ctypes.get_last_error)  # type: ignore[attr-defined]
    try:
        os.kill(pid, 0)
    except (ProcessLookupError, OverflowError):  # gone, or no process id at all
        return False
    except PermissionError:
        return True
    return True


_QUERY_LIMITED_INFORMATION, _STILL_ACTIVE, _ACCESS_DENIED = 0x1000, 259, 5


def _windows_pid_alive(pid: int, kernel32: Any, last_error: Callable[[], int]) -> bool:
    """The Windows branch of :func:`pid_alive`, given ``kernel32`` and its last-error reader: open the process for
    a query, read its exit code."""
    if not 0 < pid < 2**32:
        return False
    handle = kernel32.OpenProcess(_QUERY_LIMITED_INFORMATION, False, pid)
    if not handle:
        return last_error() == _ACCESS_DENIED  # it exists, but belongs to someone else
    try:
        code = ctypes.c_ulong()
        return bool(kernel32.GetExitCodeProcess(handle, ctypes.byref(code))) and code.value == _STILL_ACTIVE
    finally:
        kernel32.CloseHandle(handle)
