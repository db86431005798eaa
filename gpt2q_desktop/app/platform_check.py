"""Before Qt starts on Linux/X11: does Qt's xcb platform plugin find the system libraries it links to?

Without ``libxcb-icccm4`` or ``libxcb-keysyms1`` (missing on a fresh Debian 12 image, minimal desktops, WSL and
containers) Qt aborts with a misleading "xcb-cursor0 or libxcb-cursor0 is needed". This check runs ``ldd`` on the
plugin first and names what is missing, with the install command for Debian/Ubuntu and Fedora.
"""

from __future__ import annotations

import os
import re
import subprocess
import sys
from pathlib import Path

PACKAGES: dict[str, tuple[str, str]] = {
    "libxcb-icccm.so.4": ("libxcb-icccm4", "xcb-util-wm"),
    "libxcb-keysyms.so.1": ("libxcb-keysyms1", "xcb-util-keysyms"),
    "libxcb-cursor.so.0": ("libxcb-cursor0", "xcb-util-cursor"),
    "libxcb-image.so.0": ("libxcb-image0", "xcb-util-image"),
    "libxcb-render-util.so.0": ("libxcb-render-util0", "xcb-util-renderutil"),
    "libxcb-xkb.so.1": ("libxcb-xkb1", "libxcb"),
    "libxkbcommon-x11.so.0": ("libxkbcommon-x11-0", "libxkbcommon-x11"),
    "libxkbcommon.so.0": ("libxkbcommon0", "libxkbcommon"),
    "libX11-xcb.so.1": ("libx11-xcb1", "libX11-xcb"),
}
"""Library → (Debian/Ubuntu package, Fedora package)."""
_NOT_FOUND = re.compile(r"^\s*(\S+)\s+=>\s+not found", re.MULTILINE)


def uses_xcb(env: dict[str, str] | None = None, platform: str = sys.platform) -> bool:
    """Whether Qt will pick its X11 (xcb) plugin: Linux, an X display, no other platform asked for."""
    env = dict(os.environ) if env is None else env
    chosen = env.get("QT_QPA_PLATFORM", "")
    if not platform.startswith("linux") or (chosen and not chosen.startswith("xcb")):
        return False
    return bool(env.get("DISPLAY")) and not (env.get("WAYLAND_DISPLAY") and not chosen)


def xcb_plugin() -> Path | None:
    """PySide6's ``libqxcb.so`` (in the installed package or the bundle), if there is one."""
    import PySide6

    path = Path(PySide6.__file__).parent / "Qt" / "plugins" / "platforms" / "libqxcb.so"
    return path if path.is_file() else None


_OWN = ("libQt", "libpyside", "libshiboken", "libicu")
"""Libraries that come with PySide6 (or the bundle), found through its own paths at run time even where a plain
``ldd`` does not see them: never reported."""


def missing_libraries(ldd_output: str) -> list[str]:
    """The system libraries ``ldd`` reports as "not found", in order, once each."""
    found = _NOT_FOUND.findall(ldd_output)
    return list(dict.fromkeys(lib for lib in found if not lib.startswith(_OWN)))


def explain(missing: list[str]) -> str:
    """One line: what is missing, and the commands that install it."""
    debian = sorted({PACKAGES[lib][0] for lib in missing if lib in PACKAGES})
    fedora = sorted({PACKAGES[lib][1] for lib in missing if lib in PACKAGES})
    fix = f"Debian/Ubuntu: sudo apt install {' '.join(debian)}; Fedora: sudo dnf install {' '.join(fedora)}" if debian else ""
    return f"the window cannot open: Qt's X11 plugin needs {', '.join(missing)}, not installed. {fix}".strip()


def xcb_problem() -> str | None:
    """Why the window cannot start on X11, in one line, or None (not X11, nothing missing, or no ``ldd``)."""
    plugin = xcb_plugin() if uses_xcb() else None
    if plugin is None:
        return None
    env = dict(os.environ)
    bundle = getattr(sys, "_MEIPASS", None)
    if bundle:  # the bundle carries these libraries itself: ldd should find them where the app will
        env["LD_LIBRARY_PATH"] = os.pathsep.join(filter(None, [bundle, env.get("LD_LIBRARY_PATH")]))
    try:
        done = subprocess.run(["ldd", str(plugin)], capture_output=True, text=True, timeout=10, env=env)
    except (OSError, subprocess.SubprocessError):
        return None
    missing = missing_libraries(done.stdout)
    return explain(missing) if missing else None
