"""packaging/smoke.py against fake bundles: it passes a bundle that behaves and names what a broken one got wrong
(the real bundle is smoke-tested by .ci/run and the CI workflow after each build)."""

from __future__ import annotations

import importlib.util
import os
import shutil
import subprocess
import sys
import textwrap
from pathlib import Path

import pytest

ROOT = Path(__file__).resolve().parents[1]

pytestmark = pytest.mark.skipif(os.name == "nt", reason="the fake programs are scripts with a #! line")


def _smoke():
    spec = importlib.util.spec_from_file_location("packaging_smoke", ROOT / "packaging" / "smoke.py")
    module = importlib.util.module_from_spec(spec)
    sys.modules[spec.name] = module
    spec.loader.exec_module(module)
    return module


smoke = _smoke()


def fake_bundle(dist: Path, cli: str, window: str = "import sys; sys.exit(1)") -> Path:
    """dist/ with a Linux-style bundle whose two programs run these Python bodies (``argv`` is sys.argv[1:])."""
    folder = dist / "gpt2q-desktop"
    folder.mkdir(parents=True)
    for name, body in (("gpt2q", cli), ("gpt2q-desktop", window)):
        program = folder / name
        program.write_text(f"#!{sys.executable}\nimport json, os, sys\nargv = sys.argv[1:]\n{textwrap.dedent(body)}")
        program.chmod(0o755)
    return dist


def version() -> str:
    return smoke.project_version()


def test_no_bundle_is_exit_2(tmp_path: Path, capsys: pytest.CaptureFixture[str]) -> None:
    assert smoke.main(["--dist", str(tmp_path), "--only", "version"]) == 2
    assert "build the bundle first" in capsys.readouterr().err


def test_version(tmp_path: Path, capsys: pytest.CaptureFixture[str]) -> None:
    good = fake_bundle(tmp_path / "good", f"print('gpt2q {version()}')")
    assert smoke.main(["--dist", str(good), "--only", "version"]) == 0
    assert "smoke: version: OK" in capsys.readouterr().out
    bad = fake_bundle(tmp_path / "bad", "print('gpt2q 0.0.0')")
    assert smoke.main(["--dist", str(bad), "--only", "version"]) == 1
    assert "printed 'gpt2q 0.0.0'" in capsys.readouterr().err


EVAL_AND_COMPARE = """
    line = "perplexity FP32 83.97 vs INT8 84.27; Δp p1 -0.02" if argv[0] == "eval" else "1 prompt: top-1 agreement 1/1"
    print({print_arg})
"""


@pytest.mark.skipif(
    sys.platform.startswith("linux") and shutil.which("localedef") is None, reason="needs localedef (locales)"
)
def test_cp1252_pipe_catches_output_that_dies_on_its_encoding(tmp_path: Path, capsys) -> None:
    dies = fake_bundle(tmp_path / "dies", EVAL_AND_COMPARE.format(print_arg="line"))
    assert smoke.main(["--dist", str(dies), "--only", "cp1252"]) == 1
    err = capsys.readouterr().err
    assert "gpt2q eval --max-tokens 200 | (" in err and ") exited 1" in err and "UnicodeEncodeError" in err
    escapes = fake_bundle(tmp_path / "escapes", EVAL_AND_COMPARE.format(print_arg="line.replace('Δ', '\\\\u0394')"))
    assert smoke.main(["--dist", str(escapes), "--only", "cp1252"]) == 0


QUANTIZE = """
    data = os.environ["GPT2Q_DATA_DIR"]
    rows = []
    for runtime in ("torch", "onnxruntime"):
        entry = os.path.join({where}, "cache", runtime)
        os.makedirs(entry, exist_ok=True)
        open(os.path.join(entry, "model"), "w").close()
        rows.append(dict(runtime=runtime, cache_dir=entry, layers_quantized=17, layers_eligible=17))
    print(json.dumps(rows))
"""


def test_quantize_into_a_folder_with_spaces_and_non_ascii_letters(tmp_path: Path, capsys) -> None:
    good = fake_bundle(tmp_path / "good", QUANTIZE.format(where="data"))
    assert smoke.main(["--dist", str(good), "--only", "quantize"]) == 0
    assert smoke.ODD_FOLDER in capsys.readouterr().out and " " in smoke.ODD_FOLDER and not smoke.ODD_FOLDER.isascii()
    elsewhere = fake_bundle(tmp_path / "elsewhere", QUANTIZE.format(where=repr(str(tmp_path / "other"))))
    assert smoke.main(["--dist", str(elsewhere), "--only", "quantize"]) == 1
    assert "is not a folder with files in" in capsys.readouterr().err


def test_self_test_needs_an_ok_verdict(tmp_path: Path, capsys) -> None:
    body = "assert os.environ['QT_QPA_PLATFORM'] == 'offscreen' and argv == ['--self-test']; print({verdict!r})"
    good = fake_bundle(tmp_path / "good", "", window=body.format(verdict="self-test OK: 17/17 layers INT8"))
    assert smoke.main(["--dist", str(good), "--only", "self-test"]) == 0
    bad = fake_bundle(tmp_path / "bad", "", window=body.format(verdict="self-test FAILED: no checkpoint"))
    assert smoke.main(["--dist", str(bad), "--only", "self-test"]) == 1
    assert "no OK verdict" in capsys.readouterr().err


NO_XVFB = not sys.platform.startswith("linux") or shutil.which("Xvfb") is None


@pytest.mark.skipif(NO_XVFB or shutil.which("xwininfo") is None, reason="needs Xvfb and xwininfo")
def test_the_virtual_screen_takes_clients_as_soon_as_it_is_given() -> None:
    with smoke.virtual_screen() as display:
        seen = subprocess.run(["xwininfo", "-root", "-display", display], check=False, capture_output=True, text=True)
    assert seen.returncode == 0, seen.stderr
    assert "Width: 1280" in seen.stdout and "Depth: 24" in seen.stdout


@pytest.mark.skipif(NO_XVFB, reason="needs Xvfb")
def test_window_that_dies_before_showing_itself(tmp_path: Path, capsys) -> None:
    dies = fake_bundle(tmp_path / "dies", "", window="print('Traceback (most recent call last): boom'); sys.exit(3)")
    shot = tmp_path / "shot.png"
    assert smoke.main(["--dist", str(dies), "--only", "window", "--screenshot", str(shot)]) == 1
    err = capsys.readouterr().err
    assert "the window under Xvfb failed" in err and "exited (3) before showing its window" in err
    assert not shot.exists()
