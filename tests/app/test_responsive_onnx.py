"""Quantizing a GPT-2 of real width on ONNX Runtime from the window: the tracing and the quantization run in a child
process, so the event loop keeps ticking (as :mod:`tests.app.stalls` counts it), and a cancel mid-trace
stops the child and leaves nothing in the cache.

The model has gpt2-small's width and vocabulary (its 38.6 M-parameter tied matrix, the largest tensor a graph
carries) but two blocks, not twelve: the parent's share of the work (reading, hashing and loading the graphs) is
the same, the child's tracing takes a fraction of the time. The watched quantize gets its graphs from the build
child run once beforehand (beside other tests): what it watches is the parent's share; the cancel watches the
window while the child really traces."""

from __future__ import annotations

import logging
from pathlib import Path

import pytest
from PySide6.QtCore import Qt

from gpt2q_desktop.core.store.model_cache import QuantCache
from tests.app.stalls import stall_watch

pytestmark = pytest.mark.timing  # event-loop gaps: no other test beside these

TRACING, QUANTIZING = "Tracing the FP32 model into an ONNX graph", "Quantizing the ONNX graph to INT8"


@pytest.fixture(scope="module")
def gpt2_wide(tmp_path_factory: pytest.TempPathFactory) -> Path:
    """Two blocks of gpt2-small (768 wide, 50,257 tokens), with its tokenizer."""
    from gpt2q_desktop.core.checkpoints.synthetic import make_gpt2, save_checkpoint

    return save_checkpoint(make_gpt2(2), tmp_path_factory.mktemp("gpt2-wide") / "gpt2-wide", tokenizer=True)


@pytest.fixture(scope="module")
def wide_graphs(gpt2_wide: Path, tmp_path_factory: pytest.TempPathFactory) -> Path:
    """The wide model's FP32 and INT8 graphs, built by the build child into a cache of this module's; its folder."""
    from gpt2q_desktop.core.options import RecipeOptions
    from gpt2q_desktop.core.runtimes import Runtime
    from gpt2q_desktop.core.session import Session

    cache = QuantCache(tmp_path_factory.mktemp("wide-data"))
    session = Session(cache)
    session.open(gpt2_wide)
    session.quantize(RecipeOptions(), runtime=Runtime.ONNXRUNTIME)
    return cache.root


@pytest.fixture
def on_gpt2_wide(make_app, run, gpt2_wide, tiny_checkpoint):
    """A started window (libraries imported, shared tokenizer built) holding the wide model, on ONNX Runtime."""
    app = make_app(tiny_checkpoint)
    run(app, lambda: app.checkpoints.open_checkpoint(str(gpt2_wide)))
    app.window.quantize_panel.set_runtime_choice("onnxruntime")
    return app


@pytest.mark.slow  # graphs of real width traced in a child process (beforehand), then read, hashed and loaded
def test_quantizing_a_wide_model_on_onnx_runtime_never_stalls(on_gpt2_wide, run, monkeypatch, wide_graphs, gpt2_wide):
    from gpt2q_desktop.core.ort import pipeline
    from tests.conftest import session_graph_build

    monkeypatch.setattr(pipeline, "run_build", session_graph_build(wide_graphs, gpt2_wide))
    app = on_gpt2_wide
    steps: list[str] = []
    app.runner.worker.progress.connect(lambda job, done, total, message: steps.append(message))
    with stall_watch() as ticks:
        run(app, app.quantize)
    assert ticks.responsive(), ticks.describe("quantizing on ONNX Runtime")
    # the parent's share of this model: 0.6 s here (copy, hash, store, load ~200 MB of graphs)
    assert ticks.elapsed > 0.25, f"quantizing took only {ticks.elapsed:.2f} s: the check needs a larger model"
    assert any(step.startswith(TRACING) for step in steps) and any(step.startswith(QUANTIZING) for step in steps)
    result = app.window.quantize_panel.result.text()
    assert result.startswith("ONNX Runtime: ") and "linear layers INT8" in result
    assert len(QuantCache().entries()) == 2  # the FP32 graph and the INT8 graph


def test_cancelling_mid_trace_leaves_no_cache_entry(on_gpt2_wide, run, caplog):
    caplog.set_level(logging.INFO, logger="gpt2q")  # as in the app, whatever ran before: the cancel is logged, and
    # a handler that keeps the record keeps the exception's traceback: nothing may wait on it to be freed
    app = on_gpt2_wide
    steps: list[str] = []

    def cancel_while_tracing(job, done: int, total: int, message: str) -> None:  # on the worker thread
        steps.append(message)
        if message.startswith(TRACING):
            app.runner.cancel()  # thread-safe, as the Cancel button's: the child has started tracing

    app.runner.worker.progress.connect(cancel_while_tracing, Qt.ConnectionType.DirectConnection)
    with stall_watch() as ticks:
        run(app, app.quantize)
    app.runner.worker.progress.disconnect(cancel_while_tracing)

    assert ticks.responsive(), ticks.describe("cancelling")
    assert [step for step in steps if not step.startswith(TRACING)] == [], "the tracing ended before the cancel"
    assert "no ONNX model was saved" in app.window.quantize_panel.job.step.text()
    assert app.window.quantize_panel.result.text() == "Not quantized yet."
    cache = QuantCache()
    assert cache.entries() == []
    assert not cache.root.exists() or list(cache.root.iterdir()) == [], "the build's work folder was left behind"
