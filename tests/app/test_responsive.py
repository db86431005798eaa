"""The event loop keeps ticking while the engine thread quantizes a model that takes more than a second."""

from __future__ import annotations

import time

from PySide6.QtCore import QTimer

MAX_STALL_S = 0.25


def test_the_main_thread_never_stalls_while_quantizing(make_app, run, tmp_path):
    from gpt2q_desktop.core.synthetic import make_gpt2, save_checkpoint

    folder = save_checkpoint(make_gpt2(n_layer=12, n_embd=512, n_head=8, n_positions=128), tmp_path / "medium")
    app = make_app(folder)
    app.window.quantize_panel.per_channel.setChecked(True)

    ticks: list[float] = []
    timer = QTimer()
    timer.setInterval(10)
    timer.timeout.connect(lambda: ticks.append(time.perf_counter()))
    start = time.perf_counter()
    timer.start()
    run(app, app.quantize)
    timer.stop()
    ticks = [start, *ticks, time.perf_counter()]
    elapsed = ticks[-1] - start

    assert "linear layers INT8" in app.window.quantize_panel.result.text()
    assert elapsed > 1.0, f"quantizing took only {elapsed:.2f} s: the check needs a larger model"
    longest = max(b - a for a, b in zip(ticks, ticks[1:]))
    assert longest < MAX_STALL_S, f"the event loop stalled for {longest * 1000:.0f} ms"
