"""The window names the INT8 kernels that ran (GPT2Q_INT8_KERNELS=qnnpack here, as on a Mac), says plainly when INT8
is slower than FP32 there, and refuses kernels it does not know in one message."""

from __future__ import annotations

from dataclasses import replace

import pytest
import torch

from gpt2q_desktop.app.models.cache_model import HEADERS as CACHE_HEADERS
from gpt2q_desktop.app.models.cache_model import CacheModel
from gpt2q_desktop.app.models.history_model import HEADERS
from gpt2q_desktop.core.results import Timing
from gpt2q_desktop.core.store.model_cache import QuantCache

pytestmark = pytest.mark.skipif(
    "qnnpack" not in torch.backends.quantized.supported_engines, reason="needs torch's qnnpack INT8 kernels"
)


def test_the_window_names_the_kernels_that_ran(make_app, run, monkeypatch, tiny_checkpoint):
    monkeypatch.setenv("GPT2Q_INT8_KERNELS", "qnnpack")
    app = make_app(tiny_checkpoint)
    run(app, lambda: app.run_prompt("The sky is"))
    assert " on qnnpack kernels, " in app.window.quantize_panel.result.text()
    (row,) = app.history.rows
    result = app.window.compare_panel.results["torch"]
    assert row.kernels == "qnnpack" and result.int8_card.title.text() == "<b>PyTorch INT8</b> · qnnpack"
    assert app.history.index(0, HEADERS.index("Runtime")).data() == "PyTorch (qnnpack)"
    assert app.window.statusBar().currentMessage().startswith("PyTorch (qnnpack): FP32 ")
    cache = CacheModel()
    cache.set_entries(QuantCache().entries())
    assert [cache.index(0, CACHE_HEADERS.index(name)).data() for name in ("Runtime", "Holds")] == [
        "PyTorch (qnnpack)", "INT8: per-tensor, lm_head INT8, embeddings INT8"
    ]

    fp32_ms = row.fp32.timing.median_ms
    slower = replace(row, int8=replace(row.int8, timing=Timing(fp32_ms * 1.25, fp32_ms * 1.3, ())), noise=())
    app.window.compare_panel.show_rows((slower,))
    assert result.speedup.text() == "1.25× slower"
    app.window.compare_panel.show_rows((replace(row, kernels=None),))  # a row from before kernels were recorded
    assert result.int8_card.title.text() == "<b>PyTorch INT8</b>"


def test_unknown_kernels_are_one_clear_message(make_app, run, boxes, monkeypatch, tiny_checkpoint):
    monkeypatch.setenv("GPT2Q_INT8_KERNELS", "tpu")
    app = make_app(tiny_checkpoint)
    run(app, app.quantize)
    assert len(boxes) == 1 and "GPT2Q_INT8_KERNELS=tpu names no INT8 kernels" in boxes[0]
    assert "Traceback" not in boxes[0] and app.window.quantize_panel.result.text() == "Not quantized yet."
