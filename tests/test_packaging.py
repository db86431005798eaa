"""Light checks of the packaging files: spec, launcher, desktop entry, icons, install script.

Building the bundle itself takes minutes; CI does it (.ci/run: `bash packaging/build.sh`, then `packaging/smoke.py`).
"""

from __future__ import annotations

import ast
import configparser
import os
import shutil
import struct
import subprocess
import sys
from pathlib import Path

import pytest

ROOT = Path(__file__).resolve().parents[1]
PACKAGING = ROOT / "packaging"
RESOURCES = ROOT / "resources"
SIZES = (16, 32, 48, 64, 128, 256)


def _spec_calls() -> dict[str, list[ast.Call]]:
    tree = ast.parse((PACKAGING / "gpt2q-desktop.spec").read_text(encoding="utf-8"))
    calls: dict[str, list[ast.Call]] = {}
    for node in ast.walk(tree):
        if isinstance(node, ast.Call) and isinstance(node.func, ast.Name):
            calls.setdefault(node.func.id, []).append(node)
    return calls


def _kw(call: ast.Call, name: str):
    for kw in call.keywords:
        if kw.arg == name:
            return kw.value
    return None


def test_spec_is_one_folder_without_upx_and_bundles_resources() -> None:
    calls = _spec_calls()
    assert {"Analysis", "PYZ", "EXE", "COLLECT"} <= set(calls)
    for name in ("EXE", "COLLECT"):
        for call in calls[name]:
            upx = _kw(call, "upx")
            assert isinstance(upx, ast.Constant) and upx.value is False, f"{name} must have upx=False"
    text = (PACKAGING / "gpt2q-desktop.spec").read_text(encoding="utf-8")
    assert '(str(RESOURCES), "resources")' in text
    assert "pyproject.toml" in text and "copy_metadata" in text
    assert '"transformers": "pyz+py"' in text
    assert (PACKAGING / "launcher.py").is_file()


def test_launcher_dispatches_on_its_name(tmp_path: Path) -> None:
    """Started as ``gpt2q`` the bundle is the CLI; the window's name leads to the app."""
    from gpt2q_desktop.version import __version__

    cli = tmp_path / "gpt2q"
    shutil.copy(PACKAGING / "launcher.py", cli)
    proc = subprocess.run([sys.executable, str(cli), "--version"], capture_output=True, text=True, timeout=120)
    assert proc.returncode == 0, proc.stderr
    assert proc.stdout.strip() == f"gpt2q {__version__}"


def test_launcher_runs_the_self_test_as_gpt2q_desktop(tmp_path: Path) -> None:
    """Started under the window's name, the frozen entry script goes to the self-test (which the app's entry
    point test runs whole): its verdict and exit code."""
    exe = tmp_path / "gpt2q-desktop"
    shutil.copy(PACKAGING / "launcher.py", exe)
    env = dict(os.environ, QT_QPA_PLATFORM="offscreen")
    args = [sys.executable, str(exe), "--self-test", "--checkpoint", str(tmp_path / "missing"), "--no-qt"]
    bad = subprocess.run(args, capture_output=True, text=True, timeout=300, env=env)
    assert bad.returncode == 1 and bad.stdout.startswith("self-test FAILED: no checkpoint at"), bad.stdout + bad.stderr


def test_desktop_entry() -> None:
    parser = configparser.ConfigParser(interpolation=None)
    parser.optionxform = str  # keys are case-sensitive
    parser.read(RESOURCES / "gpt2q-desktop.desktop", encoding="utf-8")
    entry = parser["Desktop Entry"]
    assert entry["Type"] == "Application"
    assert entry["Exec"].split()[0] == "gpt2q-desktop"
    assert entry["Icon"] == "gpt2q-desktop"
    assert entry["Terminal"] == "false"
    assert {"Development", "Science"} <= set(filter(None, entry["Categories"].split(";")))
    assert entry["Categories"].endswith(";")


def _png_size(path: Path) -> tuple[int, int]:
    data = path.read_bytes()[:24]
    assert data[:8] == b"\x89PNG\r\n\x1a\n", f"{path} is not a PNG"
    return struct.unpack(">II", data[16:24])


def test_icons_exist_in_every_size() -> None:
    svg = RESOURCES / "icons" / "gpt2q-desktop.svg"
    assert svg.read_text(encoding="utf-8").lstrip().startswith("<?xml")
    for size in SIZES:
        assert _png_size(RESOURCES / "icons" / f"gpt2q-desktop-{size}.png") == (size, size)


def test_pngs_are_rendered_from_the_svg() -> None:
    sys.path.insert(0, str(PACKAGING))
    try:
        import render_icons
    finally:
        sys.path.remove(str(PACKAGING))
    assert render_icons.main(["--check"]) == 0, "run: python packaging/render_icons.py"


@pytest.mark.skipif(sys.platform != "linux" or shutil.which("bash") is None, reason="a Linux desktop entry, by bash")
def test_install_desktop_entry_for_the_user(tmp_path: Path) -> None:
    fake = tmp_path / "my bundle" / "gpt2q-desktop"
    fake.parent.mkdir()
    fake.write_text("#!/bin/sh\n")
    fake.chmod(0o755)
    env = dict(os.environ, XDG_DATA_HOME=str(tmp_path / "share"))
    script = str(PACKAGING / "install-desktop-entry.sh")
    subprocess.run(["bash", script, "--exec", str(fake)], check=True, env=env, capture_output=True, timeout=60)
    desktop = tmp_path / "share" / "applications" / "gpt2q-desktop.desktop"
    text = desktop.read_text(encoding="utf-8")
    assert f'Exec="{fake}" %f' in text and f"TryExec={fake}" in text
    for size in SIZES:
        assert (tmp_path / "share" / "icons" / "hicolor" / f"{size}x{size}" / "apps" / "gpt2q-desktop.png").is_file()
    assert (tmp_path / "share" / "icons" / "hicolor" / "scalable" / "apps" / "gpt2q-desktop.svg").is_file()
    subprocess.run(["bash", script, "--uninstall"], check=True, env=env, capture_output=True, timeout=60)
    assert not desktop.exists()


@pytest.mark.skipif(sys.platform == "win32" or shutil.which("bash") is None, reason="needs bash (not WSL's)")
def test_shell_scripts_parse() -> None:
    for script in (
        PACKAGING / "build.sh",
        PACKAGING / "install-desktop-entry.sh",
        ROOT / "tools" / "readme_screenshot.sh",
        ROOT / ".ci" / "run",
    ):
        subprocess.run(["bash", "-n", str(script)], check=True)


def _xwd(width: int, height: int, bits_per_pixel: int, pixels: list[list[int]]) -> bytes:
    """A minimal xwd dump (LSB-first TrueColor), as xwd writes for Xvfb."""
    step = bits_per_pixel // 8
    bytes_per_line = width * 4  # rows padded to 32 bits a pixel, as Xvfb's dumps are
    header = [108, 7, 2, 24, width, height, 0, 0, 32, 0, 32, bits_per_pixel, bytes_per_line, 4,
              0xFF0000, 0xFF00, 0xFF, 8, 256, 0, width, height, 0, 0, 0]
    body = bytearray()
    for row in pixels:
        line = bytearray()
        for rgb in row:
            line += bytes([rgb & 0xFF, (rgb >> 8) & 0xFF, (rgb >> 16) & 0xFF, 0][:step])
        body += line.ljust(bytes_per_line, b"\0")
    return struct.pack(">25I", *header) + b"root\0\0\0\0"[: 108 - 100] + bytes(body)


@pytest.mark.parametrize("bits", [24, 32])
def test_xwd_screenshot_check(tmp_path: Path, bits: int) -> None:
    sys.path.insert(0, str(PACKAGING))
    try:
        import xwd_to_png
    finally:
        sys.path.remove(str(PACKAGING))
    width, height = 40, 30
    painted = [[(x * 6) << 16 | (y * 8) << 8 | 0x40 if x < 30 else 0 for x in range(width)] for y in range(height)]
    (tmp_path / "painted.xwd").write_bytes(_xwd(width, height, bits, painted))
    assert (xwd_to_png.read_xwd(tmp_path / "painted.xwd")[5, 7]) == (7 * 6) << 16 | (5 * 8) << 8 | 0x40
    assert xwd_to_png.main([str(tmp_path / "painted.xwd"), str(tmp_path / "painted.png")]) == 0
    assert _png_size(tmp_path / "painted.png") == (width, height)
    blank = [[0] * width for _ in range(height)]
    (tmp_path / "blank.xwd").write_bytes(_xwd(width, height, bits, blank))
    assert xwd_to_png.main([str(tmp_path / "blank.xwd"), str(tmp_path / "blank.png")]) == 1
