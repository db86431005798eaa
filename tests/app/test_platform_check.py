"""The start-up check of Qt's X11 plugin: a missing system library is named with its install command."""

from __future__ import annotations

import pytest

from gpt2q_desktop.app import main as app_main
from gpt2q_desktop.app.platform_check import explain, missing_libraries, uses_xcb

LDD = """\
	linux-vdso.so.1 (0x00007ffd)
	libQt6XcbQpa.so.6 => /venv/PySide6/Qt/lib/libQt6XcbQpa.so.6 (0x00007f)
	libxcb-icccm.so.4 => not found
	libQt6DBus.so.6 => not found
	libxcb-cursor.so.0 => /lib/x86_64-linux-gnu/libxcb-cursor.so.0 (0x00007f)
	libxcb-keysyms.so.1 => not found
	libxcb-icccm.so.4 => not found
"""


def test_the_missing_libraries_are_read_from_ldd() -> None:
    assert missing_libraries(LDD) == ["libxcb-icccm.so.4", "libxcb-keysyms.so.1"]
    assert missing_libraries("\tlibc.so.6 => /lib/libc.so.6 (0x1)\n") == []


def test_the_explanation_names_the_libraries_and_both_package_managers() -> None:
    line = explain(["libxcb-icccm.so.4", "libxcb-keysyms.so.1"])
    assert "\n" not in line and "libxcb-icccm.so.4, libxcb-keysyms.so.1" in line
    assert "sudo apt install libxcb-icccm4 libxcb-keysyms1" in line
    assert "sudo dnf install xcb-util-keysyms xcb-util-wm" in line


@pytest.mark.parametrize(
    ("env", "platform", "expected"),
    [
        ({"DISPLAY": ":0"}, "linux", True),
        ({"DISPLAY": ":0", "QT_QPA_PLATFORM": "xcb"}, "linux", True),
        ({"DISPLAY": ":0", "QT_QPA_PLATFORM": "offscreen"}, "linux", False),
        ({}, "linux", False),
        ({"DISPLAY": ":0", "WAYLAND_DISPLAY": "wayland-0"}, "linux", False),
        ({"DISPLAY": ":0"}, "darwin", False),
    ],
)
def test_only_an_x11_start_is_checked(env: dict[str, str], platform: str, expected: bool) -> None:
    assert uses_xcb(env, platform) is expected


def test_the_window_does_not_start_without_them_and_says_why(monkeypatch, caplog) -> None:
    from PySide6.QtWidgets import QApplication

    line = explain(["libxcb-icccm.so.4"])
    monkeypatch.setattr(app_main, "xcb_problem", lambda: line)
    monkeypatch.setattr(QApplication, "instance", staticmethod(lambda: None))
    assert app_main.main([]) == 1
    assert [(r.levelname, r.getMessage()) for r in caplog.records if r.name == "gpt2q"] == [("ERROR", line)]
