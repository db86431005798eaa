"""Quantizing a 12-layer GPT-2 on ONNX Runtime from the window: the export and its quantization run in a child
process, so the event loop keeps ticking (the same 100 ms bound as ``test_responsive``), and a cancel mid-export
stops the child and leaves nothing in the cache."""

from __future__ import annotations

import logging
import threading
from pathlib import Path

import pytest
from PySide6.QtCore import Qt

from gpt2q_desktop.core.store.model_cache import QuantCache
from tests.app.test_responsive import MAX_STALL_S, stall_watch

CANCEL_AFTER_S = 3.0
"""How long into the export the cancel comes."""
EXPORTING, QUANTIZING = "Exporting the FP32 model to ONNX", "Quantizing the ONNX graph to INT8"


@pytest.fixture(scope="module")
def gpt2_12(tmp_path_factory: pytest.TempPathFactory) -> Path:
    """A GPT-2 of the real small size (12 layers, 768 wide), with its tokenizer."""
    from gpt2q_desktop.core.checkpoints.synthetic import make_gpt2, save_checkpoint

    return save_checkpoint(make_gpt2(12), tmp_path_factory.mktemp("gpt2-12") / "gpt2-12", tokenizer=True)


@pytest.fixture
def on_gpt2_12(make_app, run, gpt2_12, tiny_checkpoint):
    """A started window (libraries imported, shared tokenizer built) holding the 12-layer model, on ONNX Runtime."""
    app = make_app(tiny_checkpoint)
    run(app, lambda: app.checkpoints.open_checkpoint(str(gpt2_12)))
    app.window.quantize_panel.set_runtime_choice("onnxruntime")
    return app


def test_quantizing_a_12_layer_model_on_onnx_runtime_never_stalls(on_gpt2_12, run):
    app = on_gpt2_12
    steps: list[str] = []
    app.runner.worker.progress.connect(lambda job, done, total, message: steps.append(message))
    with stall_watch() as figures:
        run(app, app.quantize)
    elapsed, longest = figures()
    assert longest < MAX_STALL_S, f"the event loop stalled for {longest * 1000:.0f} ms while quantizing on ONNX Runtime"
    assert elapsed > 1.0, f"quantizing took only {elapsed:.2f} s: the check needs a larger model"
    assert any(step.startswith(EXPORTING) for step in steps) and any(step.startswith(QUANTIZING) for step in steps)
    result = app.window.quantize_panel.result.text()
    assert result.startswith("ONNX Runtime: ") and "linear layers INT8" in result
    assert len(QuantCache().entries()) == 2  # the FP32 graph and the INT8 graph


def test_cancelling_mid_export_leaves_no_cache_entry(on_gpt2_12, run, caplog):
    caplog.set_level(logging.INFO, logger="gpt2q")  # as in the app, whatever ran before: the cancel is logged, and
    # a handler that keeps the record keeps the exception's traceback: nothing may wait on it to be freed
    app = on_gpt2_12
    steps: list[str] = []

    def cancel_during_export(job, done: int, total: int, message: str) -> None:  # on the worker thread
        steps.append(message)
        if message.startswith(EXPORTING):
            threading.Timer(CANCEL_AFTER_S, app.runner.cancel).start()  # thread-safe, as the Cancel button's

    app.runner.worker.progress.connect(cancel_during_export, Qt.ConnectionType.DirectConnection)
    with stall_watch() as figures:
        run(app, app.quantize)
    app.runner.worker.progress.disconnect(cancel_during_export)
    _, longest = figures()

    assert longest < MAX_STALL_S, f"the event loop stalled for {longest * 1000:.0f} ms while cancelling"
    assert [step for step in steps if not step.startswith(EXPORTING)] == [], "the export ended before the cancel"
    assert "no ONNX model was saved" in app.window.quantize_panel.job.step.text()
    assert app.window.quantize_panel.result.text() == "Not quantized yet."
    cache = QuantCache()
    assert cache.entries() == []
    assert not cache.root.exists() or list(cache.root.iterdir()) == [], "the export's work folder was left behind"
