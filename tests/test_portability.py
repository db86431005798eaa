"""What Windows and macOS need of the same source, held on Linux: torch imported before Qt on Windows (and not
before the first paint on Linux), one clear message when torch's DLLs lack the Visual C++ runtime, and no POSIX-only
call on a path Windows or macOS runs."""

from __future__ import annotations

import ast
import json
import os
import shutil
import subprocess
import sys
from pathlib import Path

import pytest

ROOT = Path(__file__).resolve().parents[1]
FBGEMM_MISSING = (
    "raise OSError(22, 'The specified module could not be found. Error loading "
    '"C:\\\\Python311\\\\Lib\\\\site-packages\\\\torch\\\\lib\\\\fbgemm.dll" or one of its dependencies.\')\n'
)
"""A ``torch`` package that fails as torch does on a Windows PC without the Visual C++ runtime (WinError 126)."""
AS_ON_WINDOWS = "import types, gpt2q_desktop.core.platforms as p; p.sys = types.SimpleNamespace(platform='win32')\n"
"""Makes :mod:`gpt2q_desktop.core.platforms` (alone) see Windows."""


def _python(code: str, tmp_path: Path | None = None) -> subprocess.CompletedProcess[str]:
    """*code* in a fresh interpreter, offscreen, with a data folder of its own; with *tmp_path*, the ``torch`` there
    (:data:`FBGEMM_MISSING`) shadows the real one."""
    env = {**os.environ, "QT_QPA_PLATFORM": "offscreen"}
    if tmp_path is not None:
        (tmp_path / "torch").mkdir()
        (tmp_path / "torch" / "__init__.py").write_text(FBGEMM_MISSING)
        env["PYTHONPATH"] = os.pathsep.join([str(tmp_path), str(ROOT)])
        env["GPT2Q_DATA_DIR"] = str(tmp_path / "data")
    return subprocess.run([sys.executable, "-c", code], cwd=ROOT, env=env, capture_output=True, text=True, timeout=300)


IMPORT_ORDER = """
import json, sys
order = []
class Spy:
    def find_spec(self, name, path=None, target=None):
        if name in ("torch", "PySide6"):
            order.append(name)
sys.meta_path.insert(0, Spy())
{patch}import gpt2q_desktop.app.main
print(json.dumps(order))
"""


def test_on_windows_torch_is_imported_before_qt_and_on_linux_after_the_first_paint() -> None:
    """Since torch 2.9, importing torch after Qt can fail on Windows (WinError 1114, c10.dll); on Linux torch loads
    on the worker thread once the window is painted (tests/app/test_responsive.py holds that)."""
    for patch, wanted in ((AS_ON_WINDOWS, ["torch", "PySide6"]), ("", ["PySide6"])):
        done = _python(IMPORT_ORDER.format(patch=patch))
        assert done.returncode == 0, done.stderr[-2000:]
        assert json.loads(done.stdout.splitlines()[-1]) == wanted


def test_the_command_line_says_to_install_the_visual_cpp_runtime_when_torchs_dlls_do_not_load(tmp_path: Path) -> None:
    code = "import sys; from gpt2q_desktop.cli.main import main; sys.exit(main(['compare', '--prompt', 'I am']))"
    done = _python(code, tmp_path)
    assert done.returncode == 2, done.stderr[-2000:]
    [line] = done.stderr.strip().splitlines()[-1:]
    assert line.startswith("gpt2q: error: PyTorch could not load its libraries (") and "fbgemm.dll" in line
    assert "Install the Microsoft Visual C++ Redistributable (x64) from https://aka.ms/" in line
    assert "Traceback" not in done.stderr


def test_the_window_says_to_install_the_visual_cpp_runtime_when_torchs_dlls_do_not_load(tmp_path: Path) -> None:
    """The window program has no console on Windows: the message is a message box (and a line in the log)."""
    code = AS_ON_WINDOWS + (
        "from PySide6.QtWidgets import QMessageBox\n"
        "QMessageBox.critical = lambda parent, title, text: print('BOX', title, '|', text)\n"
        "import sys; from gpt2q_desktop.app.main import main; sys.exit(main([]))\n"
    )
    done = _python(code, tmp_path)
    assert done.returncode == 1, done.stderr[-2000:]
    box = [line for line in done.stdout.splitlines() if line.startswith("BOX ")]
    assert len(box) == 1 and "Microsoft Visual C++ Redistributable" in box[0] and "fbgemm.dll" in box[0]
    assert "Visual C++ Redistributable" in (tmp_path / "data" / "logs" / "gpt2q.log").read_text(encoding="utf-8")



def test_the_self_test_imports_torch_before_qt_on_windows_and_names_the_missing_runtime(tmp_path: Path) -> None:
    """``python -m gpt2q_desktop.app.selftest`` runs the Qt checks first: on Windows torch must be imported before."""
    code = AS_ON_WINDOWS + (
        "import sys\nfrom gpt2q_desktop.app.selftest.run import run\ncode = run([])\n"
        "print('Qt imported:', 'PySide6' in sys.modules)\nsys.exit(code)\n"
    )
    done = _python(code, tmp_path)
    assert done.returncode == 1, done.stderr[-2000:]
    verdict, qt = done.stdout.splitlines()[-2:]
    assert verdict.startswith("self-test FAILED: PyTorch could not load its libraries (") and "fbgemm.dll" in verdict
    assert "Visual C++ Redistributable" in verdict and qt == "Qt imported: False"


POSIX_ONLY: dict[str, tuple[str, ...]] = {
    "/proc": ("OSError", "FileNotFoundError"),
    "os.kill": (),  # on Windows signal 0 is CTRL_C_EVENT: the call succeeds and does harm; only a platform check
    "signal.SIG": (),
    "os.fork": (),
    "os.mkfifo": ("AttributeError",),
    "os.symlink": ("OSError",),  # present on Windows, refused without the privilege
    "os.sysconf": ("AttributeError",),
    "os.sched_getaffinity": ("AttributeError",),
    "os.RTLD_": ("AttributeError",),
    "fcntl": ("ImportError",),
    "resource": ("ImportError",),
    "termios": ("ImportError",),
}
"""POSIX-only uses, and the exceptions that, caught around a use, make it safe where the OS lacks it (besides a
platform check in the same function)."""
ALLOWED = {
    ("gpt2q_desktop.core.measure.system_cpu", "_linux_busy_seconds", "os.sysconf"): "called by busy_seconds off "
    "Windows and macOS only",
    ("gpt2q_desktop.core.measure.system_cpu", "_mac_busy_seconds", "os.sysconf"): "called by busy_seconds on macOS "
    "only",
}
"""Unguarded uses that are safe, with the reason."""


def _posix_use(node: ast.AST) -> str | None:
    """Which :data:`POSIX_ONLY` use *node* is, if any."""
    if isinstance(node, ast.Constant) and isinstance(node.value, str) and node.value.startswith("/proc"):
        return "/proc"
    if isinstance(node, ast.Attribute) and isinstance(node.value, ast.Name):
        name = f"{node.value.id}.{node.attr}"
        if name.startswith(("signal.SIG", "os.RTLD_")):
            return name[: name.index(".") + 4 if name.startswith("signal") else name.index(".") + 6]
        return name if name in POSIX_ONLY else None
    if isinstance(node, (ast.Import, ast.ImportFrom)):
        names = [node.module or ""] if isinstance(node, ast.ImportFrom) else [a.name for a in node.names]
        return next((n for n in names if n in POSIX_ONLY), None)
    return None


def _checks_platform(scope: ast.AST) -> bool:
    """*scope* looks at the platform: ``sys.platform``, ``os.name``, ``platform.system()`` or ``hasattr(os, ...)``."""
    for node in ast.walk(scope):
        if isinstance(node, ast.Attribute) and isinstance(node.value, ast.Name):
            if (node.value.id, node.attr) in {("sys", "platform"), ("os", "name"), ("platform", "system")}:
                return True
        if isinstance(node, ast.Call) and isinstance(node.func, ast.Name) and node.func.id == "hasattr":
            return True
    return False


def _caught(node: ast.AST, parents: dict[ast.AST, ast.AST], exceptions: tuple[str, ...]) -> bool:
    """*node* is in the body of a ``try`` that catches one of *exceptions*."""
    child, parent = node, parents.get(node)
    while parent is not None:
        if isinstance(parent, ast.Try) and child in parent.body:
            for handler in parent.handlers:
                kinds = handler.type.elts if isinstance(handler.type, ast.Tuple) else [handler.type]
                if any(isinstance(k, ast.Name) and k.id in exceptions for k in kinds):
                    return True
        child, parent = parent, parents.get(parent)
    return False


def posix_only_uses(source: str) -> list[tuple[str, str, int, bool]]:
    """Each POSIX-only use in *source*: its function, what it is, its line and whether it is guarded."""
    tree = ast.parse(source)
    parents = {child: parent for parent in ast.walk(tree) for child in ast.iter_child_nodes(parent)}
    found = []
    for node in ast.walk(tree):
        use = _posix_use(node)
        if use is None:
            continue
        scopes, up = [], parents.get(node)
        while up is not None:
            if isinstance(up, (ast.FunctionDef, ast.AsyncFunctionDef)):
                scopes.append(up)
            up = parents.get(up)
        function = scopes[0].name if scopes else "<module>"
        guarded = any(_checks_platform(s) for s in scopes) or _caught(node, parents, POSIX_ONLY[use])
        found.append((function, use, getattr(node, "lineno", 0), guarded))
    return sorted(found, key=lambda use: use[2])


def test_the_scan_finds_posix_only_calls_and_their_guards() -> None:
    source = (
        "import os, sys\n"
        "def alive(pid):\n    os.kill(pid, 0)\n"
        "def alive_checked(pid):\n    if sys.platform == 'win32':\n        return None\n    os.kill(pid, 0)\n"
        "def alive_caught(pid):\n    try:\n        os.kill(pid, 0)\n    except OSError:\n        pass\n"
        "def status():\n    try:\n        return open('/proc/self/status').read()\n"
        "    except OSError:\n        return None\n"
        "def fifo(p):\n    os.mkfifo(p)\n"
    )
    assert [(f, use, ok) for f, use, _, ok in posix_only_uses(source)] == [
        ("alive", "os.kill", False),
        ("alive_checked", "os.kill", True),
        ("alive_caught", "os.kill", False),  # a caught error is no guard: on Windows os.kill does harm, silently
        ("status", "/proc", True),
        ("fifo", "os.mkfifo", False),
    ]


def test_every_posix_only_call_in_the_package_is_guarded() -> None:
    """No ``/proc``, ``os.kill``, ``os.mkfifo``, ``os.symlink``, ``fcntl``, ``signal.SIG*``... on a path Windows or
    macOS runs: each use is guarded by a platform check in its function, by catching what the OS raises when it
    lacks it, or listed in :data:`ALLOWED` with the reason."""
    import gpt2q_desktop

    package = Path(gpt2q_desktop.__file__).parent
    unguarded, seen = [], []
    for path in sorted(package.rglob("*.py")):
        module = ".".join(path.relative_to(package.parent).with_suffix("").parts)
        for function, use, line, guarded in posix_only_uses(path.read_text(encoding="utf-8")):
            seen.append(f"{module}:{line} {function} {use}")
            if not guarded and (module, function, use) not in ALLOWED:
                unguarded.append(f"{module}:{line} {function}: {use}")
    print("\n".join(seen))
    assert "gpt2q_desktop.core.store.durable" in " ".join(seen), "the scan sees pid_alive's os.kill"
    assert not unguarded, unguarded


def _git(*args: str) -> str | None:
    """What ``git`` prints in this checkout (None without git or a checkout)."""
    if shutil.which("git") is None:
        return None
    done = subprocess.run(["git", *args], cwd=ROOT, capture_output=True, text=True, timeout=60)
    return done.stdout if done.returncode == 0 else None


def _attributes(paths: list[str], *names: str) -> dict[tuple[str, str], str]:
    out = _git("check-attr", *names, "--", *paths) or ""
    return {(path, name): value for path, name, value in (line.split(": ", 2) for line in out.splitlines())}


def test_shell_scripts_keep_lf_and_binary_resources_stay_binary() -> None:
    """Without ``.gitattributes`` Git on Windows checks shell scripts out with CRLF, and bash stops on the first
    carriage return; images, weights and the tokenizer's files must come out byte for byte."""
    tracked = (_git("ls-files") or "").splitlines()
    if not tracked:
        pytest.skip("not a git checkout")
    scripts = [p for p in tracked if p.endswith(".sh") or _starts_with_shebang(ROOT / p)]
    assert {"packaging/build.sh", ".ci/run"} <= set(scripts)
    attrs = _attributes(scripts, "eol")
    assert {p: attrs[(p, "eol")] for p in scripts} == dict.fromkeys(scripts, "lf")
    exact = [p for p in tracked if p.endswith((".png", ".safetensors")) or p.startswith("resources/")]
    attrs = _attributes(exact, "text")
    assert {p: attrs[(p, "text")] for p in exact} == dict.fromkeys(exact, "unset")


def _starts_with_shebang(path: Path) -> bool:
    if path.suffix == ".py" or not path.is_file():
        return False
    with open(path, "rb") as fh:
        return fh.read(2) == b"#!"
