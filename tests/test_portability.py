"""What Windows and macOS need of the same source, held on Linux: torch imported before Qt on Windows (and not
before the first paint on Linux), one clear message when torch's DLLs lack the Visual C++ runtime, and no POSIX-only
call on a path Windows or macOS runs."""

from __future__ import annotations

import json
import os
import subprocess
import sys
from pathlib import Path

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
