"""The window driven as a person would: open, quantize, run a prompt, cancel, refusals."""

from __future__ import annotations

import json
from pathlib import Path

import pytest
from PySide6.QtCore import Qt

from gpt2q_desktop.core.checkpoints.checkpoint import inspect_checkpoint
from gpt2q_desktop.core.options import RecipeOptions, RunSettings
from gpt2q_desktop.core.store.model_cache import QuantCache


def _core_row(checkpoint: Path, prompt: str, options: RecipeOptions, top_k: int = 5):
    """What the core itself computes for *prompt* on *checkpoint* (FP32 vs INT8)."""
    from gpt2q_desktop.core.session import Session

    session = Session()
    session.open(checkpoint)
    (row,) = session.compare([prompt], options, RunSettings(repeats=1, warmup=0, threads=1, top_k=top_k))
    return row


def test_opens_on_the_given_checkpoint_and_shows_what_was_found(make_app, tiny_checkpoint):
    app = make_app(tiny_checkpoint)
    window = app.window
    assert "tiny-gpt2" in window.windowTitle() and "gpt2q desktop" in window.windowTitle()
    fields = window.checkpoint_panel.fields
    assert fields["Layers"].text() == "2"
    assert fields["Hidden size"].text() == "64"
    assert fields["Vocabulary"].text() == "50,257"
    assert fields["On disk"].text().endswith(" MB FP32 (safetensors)")
    assert fields["In memory"].text() == f"{inspect_checkpoint(tiny_checkpoint).n_params * 4 / 1e6:.1f} MB as FP32"
    assert fields["Tokenizer"].text().startswith("checkpoint folder")
    assert window.quantize_panel.quantize_button.isEnabled()
    assert window.compare_panel.run_button.isEnabled()
    assert not window.quantize_panel.cancel_button.isEnabled()


def test_open_quantize_prompt_fills_both_cards_like_the_core(make_app, run, qtbot, trained_checkpoint):
    from gpt2q_desktop.app.display import prob_text
    from gpt2q_desktop.core.text import visible_token

    app = make_app(trained_checkpoint)
    window, panel = app.window, app.window.compare_panel
    result = panel.results["torch"]
    window.quantize_panel.per_channel.setChecked(True)
    run(app, lambda: qtbot.mouseClick(window.quantize_panel.quantize_button, Qt.MouseButton.LeftButton))
    quantized = window.quantize_panel.result.text()
    assert "9/9 linear layers INT8" in quantized and "MB →" in quantized
    assert len(QuantCache().entries()) == 1

    prompt = "The cat sat on the"
    qtbot.keyClicks(panel.prompt, prompt)
    run(app, lambda: qtbot.keyClick(panel.prompt, Qt.Key.Key_Return))

    expected = _core_row(trained_checkpoint, prompt, window.quantize_panel.options())
    (row,) = app.history.rows
    for card, side, got in ((result.fp32_card, expected.fp32, row.fp32), (result.int8_card, expected.int8, row.int8)):
        assert card.token.text() == visible_token(side.token)
        assert card.detail.text() == f"id {side.token_id} · p {prob_text(side.prob)}"
        assert [t.token_id for t in got.top] == [t.token_id for t in side.top]
        assert [t.prob for t in got.top] == pytest.approx([t.prob for t in side.top], abs=1e-6)
        assert [label for label, _ in card.bars.items] == [visible_token(t.token) for t in side.top]
        assert "median" in card.latency.text() and "p90" in card.latency.text()
    assert row.kl == pytest.approx(expected.kl, abs=1e-9)
    assert result.agreement.text() == ("same token" if expected.agree else "<b>different tokens</b>")
    assert result.kl.text() == f"{expected.kl:.2e} nats"
    assert row.speedup_text() in result.speedup.text()
    assert row.runtime == "torch" and not panel.results["onnxruntime"].isVisible() and not panel.fastest.isVisible()
    assert app.history.rowCount() == 1


def test_running_a_prompt_before_quantizing_quantizes_first(make_app, run, tiny_checkpoint):
    app = make_app(tiny_checkpoint)
    run(app, lambda: app.run_prompt("Once upon a time"))
    assert "linear layers INT8" in app.window.quantize_panel.result.text()
    assert app.history.rowCount() == 1
    run(app, lambda: app.run_prompt("The sky is"))  # same options: the INT8 model is reused
    assert app.history.rowCount() == 2
    assert len(QuantCache().entries()) == 1


def test_an_empty_prompt_is_refused_in_plain_words(make_app, run, boxes, tiny_checkpoint):
    app = make_app(tiny_checkpoint)
    run(app, lambda: app.run_prompt("   "))
    assert boxes and "empty" in boxes[-1] and "Traceback" not in boxes[-1]
    assert app.history.rowCount() == 0


def test_cancel_mid_quantize_leaves_the_cache_clean(make_app, run, tiny_checkpoint):
    app = make_app(tiny_checkpoint)
    worker = app.runner.worker
    seen: list[int] = []

    def cancel_at_second_step(job, done: int, total: int, message: str) -> None:  # runs on the worker thread
        seen.append(done)
        if done == 1:
            app.runner.cancel()

    worker.progress.connect(cancel_at_second_step, Qt.ConnectionType.DirectConnection)
    run(app, app.quantize)
    worker.progress.disconnect(cancel_at_second_step)

    assert seen == [0, 1]
    assert "cancelled" in app.window.quantize_panel.job.step.text().lower()
    assert app.window.quantize_panel.result.text() == "Not quantized yet."
    cache = QuantCache()
    assert cache.entries() == []
    assert not cache.root.exists() or not list(cache.root.iterdir())

    run(app, app.quantize)  # the app keeps working
    assert len(cache.entries()) == 1
    assert not list(cache.root.glob(".tmp-*"))


@pytest.mark.parametrize("kind", ["bert", "empty", "missing"])
def test_a_bad_folder_shows_a_message_and_the_app_keeps_working(make_app, run, boxes, tmp_path, tiny_checkpoint, kind):
    bad = tmp_path / "bad"
    if kind != "missing":
        bad.mkdir()
    if kind == "bert":
        (bad / "config.json").write_text(json.dumps({"model_type": "bert"}))
    app = make_app()
    assert not app.checkpoints.open_checkpoint(str(bad))
    message = app.window.checkpoint_panel.message
    assert message.isVisible() and message.text().startswith("Not opened:")
    assert "Traceback" not in message.text()
    assert boxes and boxes[-1] == message.text()
    assert app.window.statusBar().currentMessage() == message.text()
    if kind == "bert":
        assert "bert" in message.text() and "gpt2" in message.text()
    assert not app.window.quantize_panel.quantize_button.isEnabled()

    run(app, lambda: app.checkpoints.open_checkpoint(str(tiny_checkpoint)))
    assert not message.isVisible()
    run(app, app.quantize)
    assert "linear layers INT8" in app.window.quantize_panel.result.text()


def test_weights_that_do_not_fit_are_refused_in_plain_words(make_app, run, boxes, tmp_path, tiny_checkpoint):
    import shutil

    broken = tmp_path / "broken"
    shutil.copytree(tiny_checkpoint, broken)
    config = json.loads((broken / "config.json").read_text())
    config["n_layer"] = 3  # the weights hold 2 blocks
    (broken / "config.json").write_text(json.dumps(config))
    app = make_app()
    assert not app.checkpoints.open_checkpoint(str(broken))  # the weights file's header is checked at once
    assert boxes and "do not fit" in boxes[-1]
    assert app.window.checkpoint_panel.message.text().startswith("Not opened:")
    assert app.window.windowTitle() == "gpt2q desktop"
    run(app, lambda: app.checkpoints.open_checkpoint(str(tiny_checkpoint)))
    assert "tiny-gpt2" in app.window.windowTitle()


def test_an_unexpected_error_in_the_worker_is_shown_and_the_app_keeps_working(
    make_app, run, boxes, monkeypatch, tiny_checkpoint
):
    import gpt2q_desktop.core.measure.compare as compare

    app = make_app(tiny_checkpoint)
    real = compare.compare_encoded

    def broken(*args, **kwargs):
        raise RuntimeError("simulated failure")

    monkeypatch.setattr(compare, "compare_encoded", broken)
    run(app, lambda: app.run_prompt("Hello"))
    assert boxes and "Unexpected error" in boxes[-1] and "simulated failure" in boxes[-1]
    monkeypatch.setattr(compare, "compare_encoded", real)
    run(app, lambda: app.run_prompt("Hello"))
    assert app.history.rowCount() == 1


def test_a_folder_without_tokenizer_offers_the_bundled_one(make_app, run, tmp_path, tiny_model):
    from gpt2q_desktop.core.checkpoints.synthetic import save_checkpoint

    folder = save_checkpoint(tiny_model, tmp_path / "no-tokenizer", tokenizer=False)
    app = make_app(folder)
    panel = app.window.checkpoint_panel
    assert panel.tokenizer_row.isVisible()
    assert "No tokenizer" in panel.message.text()
    run(app, lambda: panel.bundled_button.click())
    assert not panel.tokenizer_row.isVisible()
    assert panel.fields["Tokenizer"].text().startswith("separate folder")
    run(app, lambda: app.run_prompt("Hello"))
    assert app.history.rowCount() == 1
