"""``gpt2q-desktop --self-test``: passes on a sound install, and fails (exit 1, one line) when a check fails."""

from __future__ import annotations

import json
import os
import subprocess
import sys
from pathlib import Path

import pytest

from gpt2q_desktop.app.selftest import run as selftest

# Prompts taken from the text the ``trained_checkpoint`` fixture was trained on: peaked predictions.
PROMPTS = ["--prompt", "The cat sat on the", "--prompt", "Once upon a time there was a little girl who lived in a"]


def _verdict(capsys: pytest.CaptureFixture[str]) -> str:
    out = capsys.readouterr().out.strip().splitlines()
    assert len(out) == 1, f"expected one verdict line on stdout, got {out!r}"
    return out[0]


def test_accepts_the_flag_itself_and_ignores_unknown_arguments(trained_checkpoint: Path, monkeypatch, capsys) -> None:
    """The arguments reach the checks as given (``--no-qt``: no Qt check); the checks themselves are stood in for
    here: the app's entry point below runs them all."""
    from gpt2q_desktop.app.selftest import run as run_module

    seen: list[tuple] = []

    def checked(checkpoint, prompts, min_agreement, outcome) -> None:
        seen.append((checkpoint, tuple(prompts), min_agreement))
        outcome.layers, outcome.agreement, outcome.speed = "9/9 layers INT8", "2/2 prompts agree", "INT8 2.0x faster"

    monkeypatch.setattr(run_module, "check_core", checked)
    monkeypatch.setattr("gpt2q_desktop.app.selftest.qt_checks.check_qt", lambda: pytest.fail("Qt checked with --no-qt"))
    argv = ["--self-test", "--checkpoint", str(trained_checkpoint), "--no-qt", "--unknown", *PROMPTS]
    assert selftest.run(argv) == 0
    assert seen == [(trained_checkpoint, tuple(PROMPTS[1::2]), 0.8)]
    line = _verdict(capsys)
    assert line.startswith("self-test OK: 9/9 layers INT8, 2/2 prompts agree, INT8 2.0x faster, ") and "Qt" not in line


def test_fails_without_a_checkpoint(tmp_path: Path, capsys) -> None:
    assert selftest.run(["--checkpoint", str(tmp_path / "nothing-here"), "--no-qt"]) == 1
    assert _verdict(capsys).startswith("self-test FAILED: no checkpoint at")


def test_fails_on_a_checkpoint_that_is_not_gpt2(trained_checkpoint: Path, tmp_path: Path, capsys) -> None:
    bad = tmp_path / "bert"
    bad.mkdir()
    for f in trained_checkpoint.iterdir():
        (bad / f.name).write_bytes(f.read_bytes())
    config = json.loads((bad / "config.json").read_text())
    config["model_type"] = "bert"
    (bad / "config.json").write_text(json.dumps(config))
    assert selftest.run(["--checkpoint", str(bad), "--no-qt", *PROMPTS]) == 1
    line = _verdict(capsys)
    assert line.startswith("self-test FAILED: ArchitectureError:") and "bert" in line


def test_fails_when_a_block_is_left_in_fp32(trained_checkpoint: Path, monkeypatch, capsys) -> None:
    from gpt2q_desktop.core.torch_int8 import recipe

    monkeypatch.setattr(recipe, "BLOCK_LINEARS", ("attn.c_attn", "attn.c_proj", "mlp.c_fc"))
    assert selftest.run(["--checkpoint", str(trained_checkpoint), "--no-qt", *PROMPTS]) == 1
    assert _verdict(capsys) == "self-test FAILED: only 7/9 layers INT8"


def test_fails_below_the_agreement_floor(trained_checkpoint: Path, monkeypatch, capsys) -> None:
    """An INT8 model that answers something else on every prompt must fail the self-test."""
    import torch

    from gpt2q_desktop.core.measure import compare

    class Contrary(torch.nn.Module):
        def __init__(self, inner: torch.nn.Module) -> None:
            super().__init__()
            self.inner = inner

        def forward(self, **kwargs):
            out = self.inner(**kwargs)
            out.logits = -out.logits  # the least likely token becomes the top-1
            return out

    real = compare.compare_encoded
    monkeypatch.setattr(compare, "compare_encoded", lambda pairs, *a: real([(f, Contrary(q)) for f, q in pairs], *a))
    assert selftest.run(["--checkpoint", str(trained_checkpoint), "--no-qt", *PROMPTS]) == 1
    assert _verdict(capsys) == "self-test FAILED: 0/2 prompts agree, below the floor of 80%"


def test_agreement_floor_is_a_share_of_the_prompts(trained_checkpoint: Path, capsys) -> None:
    assert selftest.run(["--checkpoint", str(trained_checkpoint), "--no-qt", "--min-agreement", "1.5"]) == 1
    assert "between 0 and 1" in _verdict(capsys)


def test_fails_when_the_icon_is_not_bundled(trained_checkpoint: Path, tmp_path: Path, monkeypatch, capsys) -> None:
    monkeypatch.setenv("GPT2Q_RESOURCES", str(tmp_path))  # a resources/ dir without icons/
    assert selftest.run(["--checkpoint", str(trained_checkpoint), *PROMPTS]) == 1
    line = _verdict(capsys)
    assert line.startswith("self-test FAILED: the app icon") and "missing" in line


def test_icons_are_in_the_resources() -> None:
    from gpt2q_desktop.core.paths import resources_dir

    icons = resources_dir() / "icons"
    assert (icons / "gpt2q-desktop.svg").is_file()
    for size in (16, 32, 48, 64, 128, 256):
        assert (icons / f"gpt2q-desktop-{size}.png").is_file(), size


def _env() -> dict[str, str]:
    env = dict(os.environ, QT_QPA_PLATFORM="offscreen")
    env.pop("GPT2Q_RESOURCES", None)
    return env


def test_module_entry_prints_one_verdict_line(tmp_path: Path) -> None:
    """``python -m gpt2q_desktop.app.selftest`` runs the self-test: one verdict line, its exit code."""
    proc = subprocess.run(
        [sys.executable, "-m", "gpt2q_desktop.app.selftest", "--checkpoint", str(tmp_path / "missing"), "--no-qt"],
        capture_output=True,
        text=True,
        timeout=300,
        env=_env(),
    )
    assert proc.returncode == 1, proc.stdout + proc.stderr
    assert proc.stdout.count("\n") == 1 and proc.stdout.startswith("self-test FAILED: no checkpoint at"), proc.stdout


@pytest.mark.slow  # the one whole self-test: PyTorch and ONNX Runtime INT8, the cache round trip, Qt
def test_app_entry_point_runs_the_self_test(trained_checkpoint: Path, tmp_path: Path, data_dir: Path, capsys) -> None:
    """``gpt2q-desktop --self-test`` goes to the self-test (its exit code included), opens no window, passes on a
    trained checkpoint with one verdict line, and writes nothing to the user's data folder."""
    base = [sys.executable, "-m", "gpt2q_desktop.app", "--self-test"]
    ok = subprocess.run(
        [*base, "--checkpoint", str(trained_checkpoint), *PROMPTS], capture_output=True, text=True, timeout=300, env=_env()
    )
    assert ok.returncode == 0, ok.stdout + ok.stderr
    assert ok.stdout.count("\n") == 1, ok.stdout
    assert ok.stdout.startswith("self-test OK: 9/9 layers INT8, 2/2 prompts agree, INT8 "), ok.stdout
    assert "Qt painted" in ok.stdout
    # Everything went to a temporary data dir: the user's (here the test's) data dir is untouched.
    assert not data_dir.exists() or not any(data_dir.iterdir())
    from gpt2q_desktop.app.main import main  # a failing self-test's exit code, from the same entry in this process

    assert main(["--self-test", "--checkpoint", str(tmp_path / "missing"), "--no-qt"]) == 1
    assert "self-test FAILED:" in capsys.readouterr().out
