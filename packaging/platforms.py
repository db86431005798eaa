"""What the bundle looks like on each operating system: where its two programs are, the Windows version
resource and the macOS Info.plist. Read by the spec, ``build.py`` and ``smoke.py`` (and the tests), so the
three agree.

* Linux: ``dist/gpt2q-desktop/gpt2q-desktop`` and a ``gpt2q`` symlink beside it.
* Windows: ``dist/gpt2q-desktop/gpt2q-desktop.exe`` (windowed) and ``gpt2q.exe`` (console), one ``_internal``.
* macOS: ``dist/gpt2q-desktop.app``, whose ``Contents/MacOS`` holds ``gpt2q-desktop`` and ``gpt2q``.
"""

from __future__ import annotations

import re
import sys
from dataclasses import dataclass
from pathlib import Path

APP = "gpt2q-desktop"
CLI = "gpt2q"
TITLE = "gpt2q desktop"
BUNDLE_IDENTIFIER = "org.gpt2q.gpt2q-desktop"
MACOS_MINIMUM = "14.0"
DESCRIPTIONS = {
    APP: "gpt2q desktop: FP32 vs INT8 GPT-2 on the CPU",
    CLI: "gpt2q: the command line of gpt2q desktop",
}
"""Each program's description (Windows shows it in Task Manager and the file's properties)."""


@dataclass(frozen=True)
class Bundle:
    """Where a built one-folder bundle keeps its programs."""

    root: Path
    """What to ship: the folder, or the .app on macOS."""
    window: Path
    """The double-clicked program (``--self-test`` runs the headless check)."""
    cli: Path
    """The command line, ``gpt2q``."""


def bundle(dist: Path, platform: str = sys.platform) -> Bundle:
    """The bundle PyInstaller writes into *dist* on *platform* (a ``sys.platform`` value)."""
    if platform == "darwin":
        macos = dist / f"{APP}.app" / "Contents" / "MacOS"
        return Bundle(dist / f"{APP}.app", macos / APP, macos / CLI)
    suffix = ".exe" if platform == "win32" else ""
    folder = dist / APP
    return Bundle(folder, folder / f"{APP}{suffix}", folder / f"{CLI}{suffix}")


def version_numbers(version: str) -> tuple[int, int, int, int]:
    """The four numbers of a Windows file version: ``0.1.0`` → (0, 1, 0, 0); ``1.2.dev3`` → (1, 2, 0, 0)."""
    numbers = [int(n) for n in re.findall(r"\d+", version.split("+")[0].split(".dev")[0])[:4]]
    if not numbers:
        raise ValueError(f"no version number in {version!r}")
    return (*numbers, 0, 0, 0, 0)[:4]  # type: ignore[return-value]


def version_strings(version: str, program: str) -> dict[str, str]:
    """The string table of *program*'s Windows version resource."""
    return {
        "CompanyName": "gpt2q",
        "FileDescription": DESCRIPTIONS[program],
        "FileVersion": version,
        "InternalName": program,
        "LegalCopyright": "MIT License",
        "OriginalFilename": f"{program}.exe",
        "ProductName": TITLE,
        "ProductVersion": version,
    }


def windows_version_info(version: str, program: str):
    """*program*'s version resource, as PyInstaller's ``EXE(version=...)`` takes it (a ``VSVersionInfo``)."""
    from PyInstaller.utils.win32 import versioninfo as vi

    numbers = version_numbers(version)
    strings = [vi.StringStruct(key, value) for key, value in version_strings(version, program).items()]
    return vi.VSVersionInfo(
        ffi=vi.FixedFileInfo(filevers=numbers, prodvers=numbers, mask=0x3F, flags=0x0, OS=0x40004, fileType=0x1),
        kids=[
            vi.StringFileInfo([vi.StringTable("040904B0", strings)]),  # U.S. English, Unicode
            vi.VarFileInfo([vi.VarStruct("Translation", [0x0409, 1200])]),
        ],
    )


def info_plist(version: str) -> dict[str, object]:
    """The keys the spec gives the macOS ``.app``'s Info.plist (PyInstaller adds the executable and icon)."""
    return {
        "CFBundleName": TITLE,
        "CFBundleDisplayName": TITLE,
        "CFBundleIdentifier": BUNDLE_IDENTIFIER,
        "CFBundleShortVersionString": version,
        "CFBundleVersion": version,
        "LSMinimumSystemVersion": MACOS_MINIMUM,  # Apple Silicon, torch's macOS wheels
        "LSApplicationCategoryType": "public.app-category.developer-tools",
        "NSPrincipalClass": "NSApplication",
        "NSHighResolutionCapable": True,
        # PyInstaller sets LSBackgroundOnly when the last program is a console one (gpt2q): the window's
        # app must have a Dock icon and a menu bar.
        "LSBackgroundOnly": False,
        # App Nap slows a hidden or covered app's timers and CPU: the latencies it measures would be wrong.
        "NSAppSleepDisabled": True,
        "NSHumanReadableCopyright": "MIT License",
    }
