"""CPU seconds the whole machine (all cores) has spent busy since it started, as each operating system says it:
Linux's ``/proc/stat``, Windows' ``GetSystemTimes``, macOS's ``host_statistics``; None elsewhere."""

from __future__ import annotations

import ctypes
import functools
import os
import sys
from typing import Any

_HOST_CPU_LOAD_INFO, _CPU_STATES = 3, 4
"""macOS: the flavour of ``host_statistics`` that counts ticks per CPU state (user, system, idle, nice)."""


def busy_seconds() -> float | None:
    """CPU seconds the machine has spent busy, all cores summed (None where the OS does not say)."""
    try:
        if sys.platform == "win32":
            return _windows_busy_seconds(ctypes.WinDLL("kernel32"))  # type: ignore[attr-defined]
        if sys.platform == "darwin":
            return _mac_busy_seconds(ctypes.CDLL(None), _mac_host())
    except (OSError, AttributeError):
        return None
    return _linux_busy_seconds()


def _linux_busy_seconds() -> float | None:
    try:
        with open("/proc/stat", encoding="ascii") as fh:
            fields = fh.readline().split()
    except OSError:
        return None
    if not fields or fields[0] != "cpu":
        return None
    ticks = [int(x) for x in fields[1:9]]
    idle = ticks[3] + ticks[4]  # idle + iowait
    return (sum(ticks) - idle) / os.sysconf("SC_CLK_TCK")


def _windows_busy_seconds(kernel32: Any) -> float | None:
    """Busy seconds as *kernel32* (Windows' library, or a stand-in) says: kernel time includes idle time."""
    idle, kernel, user = ctypes.c_ulonglong(), ctypes.c_ulonglong(), ctypes.c_ulonglong()
    if not kernel32.GetSystemTimes(ctypes.byref(idle), ctypes.byref(kernel), ctypes.byref(user)):
        return None
    return (kernel.value + user.value - idle.value) / 1e7  # 100 ns units


@functools.cache
def _mac_host() -> int:
    """The host port, asked for once (each call would add a reference to it)."""
    return int(ctypes.CDLL(None).mach_host_self())


def _mac_busy_seconds(libsystem: Any, host: int) -> float | None:
    """Busy seconds as *libsystem* (macOS's C library, or a stand-in) says, in ticks of ``SC_CLK_TCK``."""
    ticks = (ctypes.c_uint * _CPU_STATES)()
    count = ctypes.c_uint(_CPU_STATES)
    if libsystem.host_statistics(host, _HOST_CPU_LOAD_INFO, ticks, ctypes.byref(count)) != 0:  # not KERN_SUCCESS
        return None
    user, system, _idle, nice = ticks
    return (user + system + nice) / os.sysconf("SC_CLK_TCK")
