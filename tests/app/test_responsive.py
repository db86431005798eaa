"""The event loop keeps ticking while the worker thread opens, quantizes and compares a 12-layer model, and
while a 600-prompt list runs, as a 10 ms timer on the GUI thread sees it (a Python timer: it also sees the worker
holding Python's GIL; :mod:`tests.app.stalls` says what counts as responsive). The first open of a fresh process,
which imports the worker's libraries, is measured in a fresh interpreter (:mod:`tests.app.first_open`)."""

from __future__ import annotations

import json
import os
import subprocess
import sys
from pathlib import Path

import pytest

from gpt2q_desktop.core.options import RunSettings
from tests.app.stalls import Ticks, stall_watch

pytestmark = pytest.mark.timing  # event-loop gaps: no other test beside these


@pytest.fixture(scope="module")
def medium(tmp_path_factory: pytest.TempPathFactory) -> Path:
    """A 12-layer GPT-2 that takes more than a second to quantize here."""
    from gpt2q_desktop.core.checkpoints.synthetic import make_gpt2, save_checkpoint

    model = make_gpt2(n_layer=12, n_embd=512, n_head=8, n_positions=128)
    return save_checkpoint(model, tmp_path_factory.mktemp("medium") / "medium")


@pytest.fixture
def started(make_app, tiny_checkpoint):
    """A window started on the tiny checkpoint: the libraries are imported and the shared tokenizer is built (made
    with the machine shared, before the test holds it alone)."""
    return make_app(tiny_checkpoint)


def test_the_main_thread_never_stalls_on_a_12_layer_model(started, run, medium):
    app = started
    app.window.quantize_panel.per_channel.setChecked(True)
    app.window.compare_panel.set_settings(RunSettings(repeats=5, warmup=1, threads=1, top_k=5))
    steps = {
        "opening": lambda: app.checkpoints.open_checkpoint(str(medium)),
        "quantizing": app.quantize,
        "comparing": lambda: app.run_prompt("The cat sat on the mat and the dog sat on the rug"),
    }
    for step, action in steps.items():
        with stall_watch() as ticks:
            run(app, action)
        assert ticks.responsive(), ticks.describe(step)
        if step == "quantizing":
            assert "linear layers INT8" in app.window.quantize_panel.result.text()
            assert ticks.elapsed > 1.0, f"quantizing took only {ticks.elapsed:.2f} s: the check needs a larger model"
    assert app.history.rowCount() == 1


@pytest.fixture
def quantized(started, run):
    """:func:`started`, its checkpoint quantized."""
    run(started, started.quantize)
    return started


def test_the_main_thread_never_stalls_on_a_600_prompt_list(quantized, run, tmp_path):
    prompts = tmp_path / "prompts.txt"
    prompts.write_text("\n".join(f"Prompt number {i} is about the cat" for i in range(600)), encoding="utf-8")
    app = quantized
    app.window.compare_panel.set_settings(RunSettings(repeats=1, warmup=0, threads=1, top_k=5))
    with stall_watch() as ticks:
        run(app, lambda: app.run_prompt_file(str(prompts)))
    assert app.history.rowCount() == 600
    assert ticks.responsive(), ticks.describe("running the prompt list")


def test_the_first_open_of_a_fresh_process_never_stalls(tiny_checkpoint):
    """The worker imports torch, transformers and onnxruntime with the first open; this process imported them long
    ago, so the window is started in a fresh interpreter (with this test's data folder and settings file)."""
    root = Path(__file__).resolve().parents[2]
    env = {**os.environ, "QT_QPA_PLATFORM": "offscreen"}
    child = [sys.executable, "-m", "tests.app.first_open", str(tiny_checkpoint)]
    done = subprocess.run(child, cwd=root, env=env, capture_output=True, text=True, timeout=300)
    assert done.returncode == 0, done.stderr[-3000:]
    seen = json.loads(done.stdout.splitlines()[-1])
    assert seen["opened"] and seen["imported_before"] == [], seen["imported_before"]
    ticks = Ticks(seen["start"], seen["marks"])
    print(f"first open: longest gap {max(ticks.gaps) * 1000:.0f} ms, {len(ticks.stalls)} stalls over 100 ms")
    assert ticks.responsive(), ticks.describe("opening the first checkpoint of a fresh process")
