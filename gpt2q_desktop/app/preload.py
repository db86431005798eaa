"""Torch's largest native library loaded with the interpreter lock released.

``import torch`` loads ``libtorch_cpu`` (hundreds of megabytes, whose static initialisers register thousands of
operators) through Python's import machinery, which holds the interpreter lock all along: 200-550 ms here in
which the GUI thread runs no Python, so the window stalls once while the worker opens the first checkpoint.
ctypes releases the lock around a foreign call, so the C library's ``dlopen`` called through ctypes loads it
while the window goes on; the import then finds it loaded (with the flags Python would have used: ``RTLD_NOW |
RTLD_LOCAL``). Best effort: on another platform, or when anything is unexpected, the import loads it as before.
"""

from __future__ import annotations

import ctypes
import importlib.util
import logging
import os
import sys
from pathlib import Path

from gpt2q_desktop.core.logs import LOGGER

log = logging.getLogger(LOGGER)
NATIVE_LIBRARIES: dict[str, dict[str, str]] = {
    "torch": {"linux": "lib/libtorch_cpu.so"},
}
"""The libraries loaded ahead, by package: their paths in the package's folder on each platform where this was
measured and checked (Linux; macOS's dyld would reuse the image by its install name too, but that is not checked
on a Mac yet, so a Mac imports as before)."""


def native_library(package: str) -> Path | None:
    """The library of *package* to load ahead, in the folder ``import`` would import it from (None if none)."""
    where = NATIVE_LIBRARIES.get(package, {}).get(sys.platform)
    spec = importlib.util.find_spec(package) if where else None
    for folder in (spec.submodule_search_locations or []) if spec else []:
        path = Path(folder) / str(where)
        if path.is_file():
            return path
    return None


def preload_libraries() -> list[Path]:
    """Load the libraries of :data:`NATIVE_LIBRARIES` whose package is not imported yet without holding the
    interpreter lock; those loaded."""
    loaded = []
    for package in NATIVE_LIBRARIES:
        try:
            path = None if package in sys.modules else native_library(package)
            if path is None:
                continue
            dlopen = ctypes.CDLL(None).dlopen
            dlopen.restype = ctypes.c_void_p
            dlopen.argtypes = (ctypes.c_char_p, ctypes.c_int)
            if dlopen(os.fsencode(path), os.RTLD_NOW | os.RTLD_LOCAL):  # never closed: the package uses it
                loaded.append(path)
        except (OSError, AttributeError, ValueError, ImportError) as exc:
            log.debug("%s's library not loaded ahead: %s", package, exc)
    log.debug("loaded ahead: %s", ", ".join(map(str, loaded)) or "nothing")
    return loaded
