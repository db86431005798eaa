"""Build the gpt2q-desktop bundle with PyInstaller, on Linux, Windows or macOS, with the Python running this.

    python packaging/build.py               # one folder (Windows: two programs; macOS: dist/gpt2q-desktop.app)
    python packaging/build.py --self-test   # ... then run the bundle's headless self-test; fail if it fails
    python packaging/build.py --onefile     # dist/gpt2q-desktop-<version> (one self-extracting file)

Installs the ``build`` extra (PyInstaller and its hooks) into this Python when it lacks them. Prints the build
time and the bundle's size. Linux: install libxcb-icccm4 and libxcb-keysyms1 first, so the bundle carries them.
``bash packaging/build.sh`` picks (or makes) the project's .venv and runs this.
"""

from __future__ import annotations

import argparse
import os
import subprocess
import sys
import time
from pathlib import Path

sys.path.insert(0, str(Path(__file__).resolve().parent))
from platforms import APP, bundle  # noqa: E402

del sys.path[0]

ROOT = Path(__file__).resolve().parents[1]
DIST = ROOT / "dist"


def say(message: str, stream=sys.stdout) -> None:
    print(f"build: {message}", file=stream, flush=True)


def ensure_build_tools() -> None:
    """The app (its metadata goes into the bundle) and PyInstaller with its hooks, in this Python."""
    probe = [sys.executable, "-c", "import gpt2q_desktop, PyInstaller, _pyinstaller_hooks_contrib"]
    if subprocess.run(probe, capture_output=True).returncode != 0:
        say(f"installing the build extra (PyInstaller) into {sys.prefix}")
        subprocess.run([sys.executable, "-m", "pip", "install", "--quiet", "-e", f"{ROOT}[build]"], check=True)


def missing_xcb_libraries() -> list[str]:
    """Linux: the libraries Qt's X11 plugin links to that this machine lacks (the bundle would lack them too)."""
    import PySide6

    qt = Path(PySide6.__file__).parent / "Qt"
    env = dict(os.environ, LD_LIBRARY_PATH=str(qt / "lib"))
    ldd = subprocess.run(
        ["ldd", str(qt / "plugins" / "platforms" / "libqxcb.so")], capture_output=True, text=True, env=env
    )
    return sorted({line.split()[0] for line in ldd.stdout.splitlines() if "not found" in line})


def size_mib(path: Path) -> float:
    """The bytes of the files under *path* (links not followed), in MiB."""
    files = [path] if path.is_file() else [p for p in path.rglob("*") if p.is_file() and not p.is_symlink()]
    return sum(p.stat().st_size for p in files) / 2**20


def run_pyinstaller(spec_args: list[str]) -> bool:
    """The spec, run from a clean work folder into dist/ (replacing what is there)."""
    version = subprocess.run([sys.executable, "-c", "import PyInstaller; print(PyInstaller.__version__)"],
                             capture_output=True, text=True).stdout.strip()  # fmt: skip
    say(f"PyInstaller {version}, Python {sys.version.split()[0]}, {sys.platform}")
    argv = [sys.executable, "-m", "PyInstaller", "--noconfirm", "--clean", "--log-level", "WARN"]
    argv += ["--distpath", str(DIST), "--workpath", str(ROOT / "build" / "pyinstaller")]
    argv += [str(ROOT / "packaging" / "gpt2q-desktop.spec")] + (["--", *spec_args] if spec_args else [])
    return subprocess.run(argv, cwd=ROOT).returncode == 0


def built(onefile: bool) -> tuple[Path, Path]:
    """What was built: the file or folder to ship, and the window's program in it (SystemExit if missing)."""
    if onefile:
        newest = max(DIST.glob(f"{APP}-*"), key=lambda p: p.stat().st_mtime)
        return newest, newest
    programs = bundle(DIST)
    for program in (programs.window, programs.cli):
        if not program.is_file():
            raise SystemExit(f"build: no program at {program}")
    return programs.root, programs.window


def self_test(window: Path) -> bool:
    say("running the bundle's self-test (QT_QPA_PLATFORM=offscreen)")
    start = time.monotonic()
    # Captured, then printed: the Windows window program has no console of its own to print to.
    env = dict(os.environ, QT_QPA_PLATFORM="offscreen")
    proc = subprocess.run([str(window), "--self-test"], env=env, capture_output=True, text=True, errors="replace")
    sys.stderr.write(proc.stderr)
    sys.stdout.write(proc.stdout)
    if proc.returncode != 0:
        say("bundle self-test FAILED", sys.stderr)
        return False
    say(f"bundle self-test passed in {time.monotonic() - start:.0f} s")
    return True


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--self-test", action="store_true", help="run the bundle's self-test after the build")
    parser.add_argument("--onefile", action="store_true", help="one self-extracting file instead of a folder")
    parser.add_argument("--allow-no-demo", action="store_true", help="build without the demo student's weights")
    args = parser.parse_args(argv)
    if not (ROOT / "resources" / "demo-student" / "model.safetensors").is_file() and not args.allow_no_demo:
        say("resources/demo-student/model.safetensors is missing; the bundle needs the demo student.", sys.stderr)
        return 1
    ensure_build_tools()
    missing = missing_xcb_libraries() if sys.platform.startswith("linux") else []
    if missing:
        say(f"WARNING: Qt's xcb plugin needs {' '.join(missing)}; not installed here, so not "
            "bundled: the window will not open on X11 desktops lacking them. "
            "Fix: apt-get install -y libxcb-icccm4 libxcb-keysyms1", sys.stderr)  # fmt: skip
    spec_args = [flag for flag, on in (("--onefile", args.onefile), ("--allow-no-demo", args.allow_no_demo)) if on]
    start = time.monotonic()
    if not run_pyinstaller(spec_args):
        say("PyInstaller failed", sys.stderr)
        return 1
    shipped, window = built(args.onefile)
    say(f"built {window} in {time.monotonic() - start:.0f} s; {shipped.name} holds {size_mib(shipped):.0f} MiB")
    return 0 if not args.self_test or self_test(window) else 1


if __name__ == "__main__":
    sys.exit(main())
