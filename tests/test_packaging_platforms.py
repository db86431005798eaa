"""The packaging's Windows and macOS branches, checked where they can be on any OS: the icon files, where each
platform's programs are, the Windows version resource, the Info.plist, the spec's per-platform programs and its
trimming rules (on Linux, Windows and macOS file names), and the launcher under a Windows program's name.

Building on Windows and macOS is CI's (.github/workflows/ci.yml); building on Linux is .ci/run's.
"""

from __future__ import annotations

import ast
import importlib.util
import plistlib
import re
import shutil
import struct
import subprocess
import sys
from pathlib import Path
from types import ModuleType

import pytest

ROOT = Path(__file__).resolve().parents[1]
PACKAGING = ROOT / "packaging"
ICONS = ROOT / "resources" / "icons"
SPEC = PACKAGING / "gpt2q-desktop.spec"


def packaging_module(name: str) -> ModuleType:
    spec = importlib.util.spec_from_file_location(f"packaging_{name}", PACKAGING / f"{name}.py")
    module = importlib.util.module_from_spec(spec)
    sys.modules[spec.name] = module  # dataclasses look their module up
    spec.loader.exec_module(module)
    return module


icon_files = packaging_module("icon_files")
platforms = packaging_module("platforms")


def _png(size: int) -> bytes:
    return icon_files.PNG_SIGNATURE + struct.pack(">I4sII", 13, b"IHDR", size, size) + b"\0" * 16


# -- icons -------------------------------------------------------------------------------------------------------


def test_ico_holds_every_windows_size_as_png() -> None:
    images = icon_files.read_ico((ICONS / "gpt2q-desktop.ico").read_bytes())
    assert sorted(images) == sorted(icon_files.ICO_SIZES) and 256 in images and 16 in images


def test_icns_holds_every_retina_type_as_png() -> None:
    images = icon_files.read_icns((ICONS / "gpt2q-desktop.icns").read_bytes())
    assert set(images) == set(icon_files.ICNS_TYPES)
    assert max(icon_files.ICNS_TYPES[kind] for kind in images) == 1024


def test_icon_containers_round_trip_and_refuse_broken_files() -> None:
    pngs = {size: _png(size) for size in (16, 32, 256)}
    ico = icon_files.ico_bytes(pngs)
    assert icon_files.read_ico(ico) == pngs
    assert ico[6 + 16 * 2] == 0  # 256 is written as 0
    with pytest.raises(ValueError, match="past the end"):
        icon_files.read_ico(ico[:-5])
    with pytest.raises(ValueError, match="is 32x32"):
        icon_files.ico_bytes({16: _png(32)})
    with pytest.raises(ValueError, match="1 to 256"):
        icon_files.ico_bytes({512: _png(512)})
    icns = icon_files.icns_bytes({size: _png(size) for size in icon_files.ICNS_SIZES})
    assert icon_files.read_icns(icns)[b"ic10"] == _png(1024)
    with pytest.raises(ValueError, match="length"):
        icon_files.read_icns(icns[:-1])
    with pytest.raises(ValueError, match="needs the sizes"):
        icon_files.icns_bytes({32: _png(32)})


# -- where the programs are, version resource, Info.plist ---------------------------------------------------------


def test_each_platform_has_a_window_and_a_command_line_program() -> None:
    dist = Path("dist")
    linux = platforms.bundle(dist, "linux")
    folder = dist / "gpt2q-desktop"
    assert (linux.root, linux.window, linux.cli) == (folder, folder / "gpt2q-desktop", folder / "gpt2q")
    windows = platforms.bundle(dist, "win32")
    assert (windows.window.name, windows.cli.name) == ("gpt2q-desktop.exe", "gpt2q.exe")
    assert windows.window.parent == windows.cli.parent == windows.root
    macos = platforms.bundle(dist, "darwin")
    assert macos.root == dist / "gpt2q-desktop.app"
    assert macos.window == macos.root / "Contents" / "MacOS" / "gpt2q-desktop"
    assert macos.cli == macos.root / "Contents" / "MacOS" / "gpt2q"


@pytest.mark.parametrize(
    ("version", "numbers"),
    [("0.1.0", (0, 1, 0, 0)), ("1.2", (1, 2, 0, 0)), ("2.0.1.dev3", (2, 0, 1, 0)), ("3.4.5+local.7", (3, 4, 5, 0))],
)
def test_windows_file_version_numbers(version: str, numbers: tuple[int, ...]) -> None:
    assert platforms.version_numbers(version) == numbers


def test_windows_version_strings_name_each_program() -> None:
    window = platforms.version_strings("0.1.0", "gpt2q-desktop")
    cli = platforms.version_strings("0.1.0", "gpt2q")
    assert (window["OriginalFilename"], cli["OriginalFilename"]) == ("gpt2q-desktop.exe", "gpt2q.exe")
    assert window["FileDescription"] != cli["FileDescription"]
    assert window["ProductVersion"] == cli["FileVersion"] == "0.1.0"


def test_windows_version_resource_is_what_pyinstaller_writes(monkeypatch: pytest.MonkeyPatch) -> None:
    pytest.importorskip("PyInstaller", reason="the build extra (PyInstaller) is not installed")
    import PyInstaller.compat

    # Off Windows: stand-ins for what versioninfo imports only to write a resource into an .exe.
    if importlib.util.find_spec("pefile") is None:
        monkeypatch.setitem(sys.modules, "pefile", ModuleType("pefile"))
    monkeypatch.setattr(PyInstaller.compat, "win32api", getattr(PyInstaller.compat, "win32api", None), raising=False)
    info = platforms.windows_version_info("0.1.0", "gpt2q")
    raw = info.toRaw()
    assert "gpt2q.exe".encode("utf-16-le") in raw and "VS_VERSION_INFO".encode("utf-16-le") in raw
    assert info.ffi.fileVersionMS == 1 and info.ffi.fileVersionLS == 0  # 0.1 . 0.0


def test_info_plist_asks_for_macos_14_high_dpi_and_no_app_nap() -> None:
    keys = plistlib.loads(plistlib.dumps(platforms.info_plist("0.1.0")))
    assert keys["LSMinimumSystemVersion"] == "14.0"
    assert keys["NSHighResolutionCapable"] is True
    assert keys["NSAppSleepDisabled"] is True
    assert keys["LSBackgroundOnly"] is False
    assert keys["CFBundleIdentifier"] == platforms.BUNDLE_IDENTIFIER
    assert re.fullmatch(r"[A-Za-z0-9-]+(\.[A-Za-z0-9-]+)+", keys["CFBundleIdentifier"])
    assert keys["CFBundleShortVersionString"] == keys["CFBundleVersion"] == "0.1.0"
    assert len(keys["CFBundleName"]) <= 15  # longer names are cut in the menu bar


# -- the spec ---------------------------------------------------------------------------------------------------------


def _spec_tree() -> ast.Module:
    return ast.parse(SPEC.read_text(encoding="utf-8"))


def test_spec_gives_windows_and_macos_a_console_gpt2q_and_macos_an_app() -> None:
    tree = _spec_tree()
    calls = {n.func.id: n for n in ast.walk(tree) if isinstance(n, ast.Call) and isinstance(n.func, ast.Name)}
    bundle = calls["BUNDLE"]
    assert {kw.arg for kw in bundle.keywords} >= {"name", "icon", "bundle_identifier", "version", "info_plist"}
    collect = calls["COLLECT"]
    assert isinstance(collect.args[0], ast.Starred) and collect.args[0].value.id == "programs"
    text = SPEC.read_text(encoding="utf-8")
    assert "programs.append(program(CLI, console=True" in text
    assert "version=windows_version_info(" in text and "icon=ICON" in text
    assert re.search(r"ICON = .*'ico' if WINDOWS else 'icns'", text)


def _drop_rules() -> list[re.Pattern]:
    """The spec's trimming rules, evaluated from its source (the spec itself runs only inside PyInstaller)."""
    tree = _spec_tree()
    named = [n for n in tree.body if isinstance(n, ast.Assign) and isinstance(n.targets[0], ast.Name)]
    wanted = [n for n in named if n.targets[0].id in ("_SHARED", "_DROP")]
    namespace: dict = {"re": re}
    exec(compile(ast.Module(body=wanted, type_ignores=[]), str(SPEC), "exec"), namespace)
    return namespace["_DROP"]


DROPPED = [
    "libcudnn.so.9", "torch/lib/libcublas.so.12", "nvidia/cuda_runtime/lib/libcudart.so.12",
    "torch/lib/cudnn64_9.dll", "torch/lib/cublas64_12.dll", "torch/lib/libcudart.dylib",
    "torch/lib/torch_cpu.lib", "torch/lib/c10.lib", "torch/include/ATen/ATen.h", "torch/bin/test_api.exe",
    "torch/bin/protoc", "torch/lib/torchbind_test.dll", "torch/lib/libjitbackend_test.so",
    "PySide6/Qt/translations/qt_de.qm", "PySide6/translations/qt_de.qm",
    "libQt6Network.so.6", "PySide6/Qt/lib/libQt6Network.so.6", "PySide6/Qt6Network.dll",
    "PySide6/Qt/lib/QtNetwork.framework/Versions/A/QtNetwork", "PySide6/plugins/tls/qschannelbackend.dll",
    "PySide6/Qt/plugins/tls/libqopensslbackend.dylib", "PySide6/opengl32sw.dll",
    "resources/icons/gpt2q-desktop.ico", "resources/icons/gpt2q-desktop.icns",
]  # fmt: skip
KEPT = [
    "torch/lib/libtorch_cpu.so", "torch/lib/torch_cpu.dll", "torch/lib/c10.dll", "torch/lib/fbgemm.dll",
    "torch/lib/libiomp5md.dll", "torch/lib/libtorch_cpu.dylib", "torch/lib/libomp.dylib",
    "torch/bin/torch_shm_manager", "PySide6/Qt6Core.dll", "PySide6/Qt6Gui.dll", "PySide6/Qt6Widgets.dll",
    "PySide6/plugins/platforms/qwindows.dll", "PySide6/plugins/styles/qmodernwindowsstyle.dll",
    "PySide6/Qt/lib/QtGui.framework/Versions/A/QtGui", "PySide6/Qt/plugins/platforms/libqcocoa.dylib",
    "PySide6/Qt/plugins/platforms/libqxcb.so", "PySide6/d3dcompiler_47.dll", "PySide6/msvcp140.dll",
    "onnxruntime/capi/onnxruntime.dll", "onnxruntime/capi/libonnxruntime.1.32.0.dylib",
    "resources/icons/gpt2q-desktop-256.png", "resources/icons/gpt2q-desktop.svg",
    "resources/demo-student/model.safetensors",
]  # fmt: skip


@pytest.mark.parametrize("dest", DROPPED)
def test_trimming_rules_drop_on_every_platform(dest: str) -> None:
    assert any(rule.search(dest) for rule in _drop_rules()), dest


@pytest.mark.parametrize("dest", KEPT)
def test_trimming_rules_keep_what_the_app_loads(dest: str) -> None:
    assert not any(rule.search(dest) for rule in _drop_rules()), dest


# -- the launcher under a Windows program's name ------------------------------------------------------------------


@pytest.mark.parametrize("name", ["gpt2q.exe", "GPT2Q.EXE"])
def test_launcher_as_gpt2q_exe_is_the_command_line(tmp_path: Path, name: str) -> None:
    from gpt2q_desktop.version import __version__

    cli = tmp_path / name
    shutil.copy(PACKAGING / "launcher.py", cli)
    proc = subprocess.run([sys.executable, str(cli), "--version"], capture_output=True, text=True, timeout=120)
    assert proc.returncode == 0, proc.stderr
    assert proc.stdout.strip() == f"gpt2q {__version__}"
