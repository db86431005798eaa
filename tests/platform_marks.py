"""What some operating systems lack, for the tests that need it: named pipes (Windows), symbolic links (Windows
without Developer Mode or the privilege), device files. A test that needs one is skipped there, never failed."""

from __future__ import annotations

import os
import sys
from pathlib import Path

import pytest

fifo_only = pytest.mark.skipif(not hasattr(os, "mkfifo"), reason="no named pipes (FIFOs) on this OS")
posix_only = pytest.mark.skipif(sys.platform == "win32", reason="POSIX files and modes (devices, read-only folders)")


def make_fifo(path: Path) -> None:
    """A named pipe at *path*; the test is skipped where the OS has none."""
    if not hasattr(os, "mkfifo"):
        pytest.skip("no named pipes (FIFOs) on this OS")
    os.mkfifo(path)


def make_symlink(target: str | Path, link: Path) -> None:
    """A symbolic link *link* to *target* (relative to the link's folder, as the OS reads it); the test is skipped
    where this user cannot make links (Windows without Developer Mode or the privilege)."""
    is_dir = (link.parent / target).is_dir()
    try:
        os.symlink(target, link, target_is_directory=is_dir)
    except (OSError, NotImplementedError) as exc:
        if sys.platform != "win32":
            raise
        pytest.skip(f"this user cannot make symbolic links on Windows ({exc})")
