"""What differs between Linux, Windows and macOS: the platform's name in messages, and torch's native libraries
failing to load on Windows (torch free: this module is imported before torch is)."""

from __future__ import annotations

import sys

VC_REDIST_URL = "https://aka.ms/vs/17/release/vc_redist.x64.exe"
"""Microsoft's download of the Visual C++ Redistributable (x64), which PyTorch's DLLs need on Windows."""


def os_name(platform: str | None = None) -> str:
    """The operating system's name as people know it."""
    platform = sys.platform if platform is None else platform
    names = {"win32": "Windows", "darwin": "macOS", "linux": "Linux"}
    return names.get(platform, platform)


def not_measured(platform: str | None = None) -> str:
    """What a figure says in place of a number the platform gives no way to measure."""
    return f"not measured on {os_name(platform)}"


def torch_load_problem(exc: BaseException | None) -> str | None:
    """What to do when ``import torch`` failed with *exc* (or an error it was raised from, as a library importing
    torch wraps it) because a DLL did not load (Windows: ``fbgemm.dll`` or ``c10.dll`` without the Microsoft Visual
    C++ runtime, WinError 126), in one message; None for other errors."""
    seen: list[BaseException] = []
    while exc is not None and exc not in seen and not (isinstance(exc, OSError) and ".dll" in str(exc).lower()):
        seen.append(exc)
        exc = exc.__cause__ or exc.__context__
    if exc is None or exc in seen:
        return None
    text = str(exc)
    return (
        f"PyTorch could not load its libraries ({' '.join(text.split())}). Install the Microsoft Visual C++ "
        f"Redistributable (x64) from {VC_REDIST_URL}, then start again."
    )


def import_torch_first(platform: str | None = None) -> str | None:
    """On Windows, import torch now, before Qt: since torch 2.9 importing it after Qt's DLLs can fail
    (WinError 1114, ``c10.dll``). Elsewhere nothing is imported (on Linux the window paints first and torch loads
    on the worker thread). Returns what to tell the user when torch's DLLs cannot load, else None."""
    if (sys.platform if platform is None else platform) != "win32":
        return None
    try:
        import torch  # noqa: F401
    except OSError as exc:
        return torch_load_problem(exc) or f"PyTorch could not be loaded ({exc})."
    return None
