"""The Quality lab driven as a person would: continuation, corpus evaluation, sensitivity, exclusions, cancel."""

from __future__ import annotations

from pathlib import Path

import pytest
from PySide6.QtCore import Qt

from gpt2q_desktop.app.jobs import EvaluateJob, SensitivityJob
from gpt2q_desktop.core.options import RecipeOptions
from gpt2q_desktop.core.store.model_cache import QuantCache
from tests.app.conftest import of_job
from tests.conftest import TRAIN_TEXT

EVAL_TOKENS = 300
SENSITIVITY_TOKENS = 128


@pytest.fixture
def corpus(tmp_path: Path) -> Path:
    """The tiny student's training text, long enough for several 64-token windows."""
    path = tmp_path / "corpus.txt"
    path.write_text(TRAIN_TEXT * 3, encoding="utf-8")
    return path


@pytest.fixture
def lab(make_app, trained_checkpoint, corpus):
    """A window on the trained checkpoint with the Quality lab shown, reading *corpus*, small runs."""
    app = make_app(trained_checkpoint)
    app.window.tabs.setCurrentWidget(app.window.quality_panel)
    panel = app.window.quality_panel
    panel.text_path.setText(str(corpus))
    panel.eval_tokens.setValue(EVAL_TOKENS)
    panel.sensitivity_tokens.setValue(SENSITIVITY_TOKENS)
    return app


def _core(checkpoint: Path, options: RecipeOptions):
    """A session on the checkpoint and its INT8 model as the core builds them (from the cache the window filled)."""
    from gpt2q_desktop.core.session import Session

    session = Session()
    session.open(checkpoint)
    return session, session.int8(options)


@pytest.mark.parametrize("sample", [False, True])
def test_continuations_are_shown_as_the_core_generates_them(lab, run, qtbot, trained_checkpoint, sample):
    from gpt2q_desktop.app.views.continuation_view import shown_token
    from gpt2q_desktop.core.measure.continuation import continuation_pair
    from gpt2q_desktop.core.measure.inference import default_threads

    panel = lab.window.quality_panel
    qtbot.keyClicks(panel.continuation.prompt, "The cat sat on the")
    if sample:
        panel.continuation.sample.setChecked(True)
        panel.continuation.temperature.setValue(1.5)
        panel.continuation.seed.setValue(7)
    if sample:  # Ctrl+R / F5 runs the shown tab: here the lab's continuation, not the Compare tab's prompt
        run(lab, lab.window.act_run.trigger)
    else:
        run(lab, lambda: qtbot.keyClick(panel.continuation.prompt, Qt.Key.Key_Return))
    assert lab.history.rowCount() == 0

    session, int8 = _core(trained_checkpoint, lab.window.quantize_panel.options())
    temperature = 1.5 if sample else 0.0
    pair = continuation_pair(
        session.fp32,
        int8,
        session.tokenizer,
        "The cat sat on the",
        20,
        session.n_positions,
        default_threads(),  # as the window's: a near-tie may fall the other way on another thread count
        temperature,
        7 if sample else 0,
    )
    assert len(pair.fp32.tokens) == 20
    for text, side in ((panel.continuation.fp32_text, pair.fp32), (panel.continuation.int8_text, pair.int8)):
        assert text.toPlainText() == "The cat sat on the" + "".join(shown_token(t) for t in side.tokens)
    if pair.first_divergence is None:
        assert "agree on all 20 tokens" in panel.continuation.divergence.text()
    else:
        assert f"token {pair.first_divergence + 1}" in panel.continuation.divergence.text()
        assert "background-color" in panel.continuation.fp32_text.toHtml()
    for label in (panel.continuation.fp32_latency, panel.continuation.int8_latency):
        assert label.text().startswith("median") and " · p90 " in label.text() and "ms per token" in label.text()
        assert label.toolTip().startswith("Prompt read and first token: ") and "19 tokens timed" in label.toolTip()


def test_whitespace_tokens_are_made_visible_and_the_divergence_highlighted():
    from gpt2q_desktop.app.views.continuation_view import DIVERGENCE_COLOR, continuation_html

    html = continuation_html("Hi", (" there", "\n", "!"), 1)
    assert " there" in html and "↵" in html
    assert f'<span style="background-color:{DIVERGENCE_COLOR}">↵</span>' in html


def test_an_unreliable_continuation_timing_says_so_and_why(qtbot):
    from dataclasses import replace

    from gpt2q_desktop.app.views.continuation_view import ContinuationBox
    from gpt2q_desktop.core.measure.continuation import Continuation, ContinuationPair

    side = Continuation((1, 2, 3), (" a", " b", " c"), 5.0, (2.0, 4.0))
    pair = ContinuationPair("Hi", side, side, None, threads=1, noise=("other programs used 1.5 cores meanwhile",))
    box = ContinuationBox()
    qtbot.addWidget(box)
    box.show_pair(pair, int8_before=3.0)
    assert box.fp32_latency.text() == "median 3.00 ms · p90 3.80 ms per token (unreliable)"
    assert box.int8_latency.text() == "median 3.00 ms · p90 3.80 ms per token (was 3.00) (unreliable)"
    assert box.divergence.text() == (
        "The two continuations agree on all 3 tokens. Timing unreliable (other programs used 1.5 cores meanwhile):"
        " another program is using the CPU: close it."
    )
    assert box.int8_latency.toolTip().startswith("Prompt read and first token: 5.00 ms; then 2 tokens timed")
    box.show_pair(replace(pair, noise=()))
    assert "unreliable" not in box.int8_latency.text() + box.divergence.text()
    one = Continuation((1,), (" a",), 5.0, ())  # a single token: only the prompt's step was timed
    box.show_pair(replace(pair, fp32=one, int8=one, noise=()))
    assert box.int8_latency.text() == "first token 5.00 ms"
    assert box.int8_latency.toolTip() == "Prompt read and first token: 5.00 ms, on 1 thread, after an untimed warm-up"


def test_corpus_figures_are_the_cores(lab, run, qtbot, trained_checkpoint, corpus):
    from gpt2q_desktop.core.measure.quality import evaluate_text, read_text

    panel = lab.window.quality_panel
    with qtbot.waitSignal(lab.runner.worker.produced, timeout=120_000, check_params_cb=of_job(EvaluateJob)) as shown:
        run(lab, lambda: qtbot.mouseClick(panel.evaluate_button, Qt.MouseButton.LeftButton))
    got = shown.args[1]
    assert "linear layers INT8" in lab.window.quantize_panel.result.text()  # quantized first
    assert "INT8 model (per-tensor" in panel.recipe.text()

    session, int8 = _core(trained_checkpoint, lab.window.quantize_panel.options())
    expected = evaluate_text(session.fp32, int8, session.tokenizer, read_text(corpus), session.n_positions, EVAL_TOKENS)
    assert got.tokens == expected.tokens == EVAL_TOKENS
    assert got.kl_histogram == expected.kl_histogram
    for name in ("ppl_fp32", "ppl_int8", "kl_mean", "kl_median", "kl_p99", "top1_agreement"):
        assert getattr(got, name) == pytest.approx(getattr(expected, name), rel=1e-6, abs=1e-12), name
    f = panel.figures
    assert f["Tokens"].text() == f"{EVAL_TOKENS:,}"
    assert f["Perplexity FP32"].text() == f"{expected.ppl_fp32:.2f}"
    assert f["Perplexity INT8"].text() == f"{expected.ppl_int8:.2f}"
    assert f["KL mean"].text() == f"{got.kl_mean:.2e} nats"
    assert f["KL median"].text() == f"{got.kl_median:.2e} nats"
    assert f["KL p99"].text() == f"{got.kl_p99:.2e} nats"
    assert f["Top-1 agreement"].text() == f"{expected.top1_agreement:.1%}"
    assert f["Δp p1 / p5 / p50 / p95 / p99"].text().count("/") == 4
    bars = panel.histogram.bars
    assert [count for _, count in bars] == expected.kl_histogram
    assert len(bars) == len(expected.kl_bins) + 1 and bars[0][0] == "<1e-7" and bars[-1][0] == "≥1e1"


def test_sensitivity_ranking_and_excluding_a_block_requantizes(lab, run, qtbot, boxes):
    window, panel = lab.window, lab.window.quality_panel
    reports = []
    lab.runner.worker.quantized.connect(lambda job, report: reports.append(report))
    run(lab, lab.quantize)
    assert reports[-1].layers_quantized == 9

    with qtbot.waitSignal(lab.runner.worker.produced, timeout=120_000, check_params_cb=of_job(SensitivityJob)) as ranked:
        run(lab, lambda: qtbot.mouseClick(panel.sensitivity_button, Qt.MouseButton.LeftButton))
    scores = ranked.args[1]
    assert sorted(s.layer for s in scores) == ["block 0", "block 1", "lm_head + embeddings"]
    assert [label for label, _ in panel.chart.rows] == [s.layer for s in scores]
    assert [kl for _, kl in panel.chart.rows] == sorted((s.kl_mean for s in scores), reverse=True)
    assert panel.blocks.count() == 3
    assert panel.exclude_button.isEnabled()

    row = next(i for i in range(3) if panel.blocks.item(i).text().startswith("block 1:"))
    panel.blocks.item(row).setCheckState(Qt.CheckState.Checked)
    assert panel.checked_blocks() == [1]
    evaluated = []
    lab.runner.worker.produced.connect(
        lambda job, result: evaluated.append(result) if isinstance(job, EvaluateJob) else None
    )
    panel.continuation.prompt.setText("The dog sat")
    run(lab, lambda: qtbot.mouseClick(panel.exclude_button, Qt.MouseButton.LeftButton))
    int8_latency = panel.continuation.int8_latency.text()
    assert "(was" not in int8_latency and int8_latency.startswith("median")

    assert not boxes
    assert window.quantize_panel.fp32_blocks.text() == "1"
    assert window.quantize_panel.options().exclude_layers == (1,)
    assert reports[-1].layers_quantized == 9 - 4
    assert reports[-1].options["exclude_layers"] == [1]
    assert len(QuantCache().entries()) == 2
    assert len(evaluated) == 1 and evaluated[0].tokens == EVAL_TOKENS
    assert "blocks kept FP32: 1" in panel.recipe.text() and "5/9 linear layers INT8" in panel.recipe.text()

    # a second exclusion run on the same text shows what the figures were before
    panel.blocks.item(row).setCheckState(Qt.CheckState.Unchecked)
    run(lab, lambda: qtbot.mouseClick(panel.exclude_button, Qt.MouseButton.LeftButton))
    assert window.quantize_panel.fp32_blocks.text() == ""
    assert reports[-1].layers_quantized == 9 and reports[-1].cache_hit
    assert "(was " in panel.figures["Top-1 agreement"].text()
    assert "(was " in panel.continuation.int8_latency.text(), "the speed under the previous recipe is shown too"

    # the compare tab quantizes with the same recipe: nothing new in the cache
    window.quantize_panel.fp32_blocks.setText("1")
    run(lab, lambda: lab.run_prompt("The dog sat"))
    assert reports[-1].options["exclude_layers"] == [1] and reports[-1].cache_hit
    assert len(QuantCache().entries()) == 2


@pytest.mark.parametrize("per_channel", [False, True])
def test_the_window_ranks_the_layers_as_the_cli_does(lab, run, qtbot, trained_checkpoint, corpus, capsys, per_channel):
    """Same text, same token budget, same recipe: the same ranking, whichever front end asks. The text opens
    with a rule of 64-character tokens, so a budget counted in characters instead of tokens would differ."""
    import json

    from gpt2q_desktop.cli.main import main

    ruled = corpus.with_name("ruled.txt")
    ruled.write_text("=" * 4096 + "\n" + corpus.read_text(encoding="utf-8"), encoding="utf-8")
    lab.window.quality_panel.text_path.setText(str(ruled))
    lab.window.quantize_panel.per_channel.setChecked(per_channel)
    with qtbot.waitSignal(lab.runner.worker.produced, timeout=120_000, check_params_cb=of_job(SensitivityJob)) as ranked:
        run(lab, lambda: qtbot.mouseClick(lab.window.quality_panel.sensitivity_button, Qt.MouseButton.LeftButton))
    window_scores = ranked.args[1]

    argv = ["sensitivity", str(trained_checkpoint), "--text", str(ruled), "--max-tokens", str(SENSITIVITY_TOKENS), "--json"]
    assert main(argv + (["--per-channel"] if per_channel else [])) == 0
    cli_scores = json.loads(capsys.readouterr().out)
    assert [s["layer"] for s in cli_scores] == [s.layer for s in window_scores]
    assert [s["kl_mean"] for s in cli_scores] == pytest.approx([s.kl_mean for s in window_scores], rel=1e-6)
    assert [s["top1_agreement"] for s in cli_scores] == [s.top1_agreement for s in window_scores]


def test_fp32_blocks_are_remembered(make_app, tiny_checkpoint):
    first = make_app(tiny_checkpoint)
    first.window.quantize_panel.fp32_blocks.setText("1, 0")
    assert first.window.quantize_panel.options().exclude_layers == (0, 1)
    first.window.close()
    second = make_app(restore=True)
    assert second.window.quantize_panel.fp32_blocks.text() == "0, 1"
    assert second.settings.options.exclude_layers == (0, 1)


@pytest.mark.parametrize("when", ["quantizing", "evaluating"])
def test_cancelling_an_evaluation_keeps_the_window_usable(lab, run, qtbot, when):
    panel, worker = lab.window.quality_panel, lab.runner.worker
    seen: list[str] = []

    def cancel(job, done: int, total: int, message: str) -> None:  # runs on the worker thread
        seen.append(message)
        if (when == "quantizing" and done == 1) or (when == "evaluating" and message.startswith("evaluated")):
            lab.runner.cancel()

    if when == "evaluating":
        run(lab, lab.quantize)
    worker.progress.connect(cancel, Qt.ConnectionType.DirectConnection)
    with qtbot.waitSignal(worker.cancelled, timeout=120_000):
        run(lab, lambda: qtbot.mouseClick(panel.evaluate_button, Qt.MouseButton.LeftButton))
    worker.progress.disconnect(cancel)

    assert "cancelled" in panel.job.step.text().lower()
    assert panel.figures["Tokens"].text() == "–"
    cache = QuantCache()
    if when == "quantizing":
        assert cache.entries() == [] and not list(cache.root.glob(".tmp-*"))
    else:
        assert len(cache.entries()) == 1
    assert panel.evaluate_button.isEnabled() and not panel.cancel_button.isEnabled()

    run(lab, lambda: qtbot.mouseClick(panel.evaluate_button, Qt.MouseButton.LeftButton))
    assert panel.figures["Tokens"].text() == f"{EVAL_TOKENS:,}"
    assert len(cache.entries()) == 1


def test_opening_another_checkpoint_clears_the_previous_figures(lab, run, qtbot, tiny_checkpoint):
    panel = lab.window.quality_panel
    run(lab, lambda: qtbot.mouseClick(panel.evaluate_button, Qt.MouseButton.LeftButton))
    assert panel.figures["Tokens"].text() == f"{EVAL_TOKENS:,}" and panel.histogram.bars

    run(lab, lambda: lab.checkpoints.open_checkpoint(str(tiny_checkpoint)))
    assert panel.figures["Tokens"].text() == "–" and not panel.histogram.bars
    assert panel.blocks.count() == 0


def test_excluding_blocks_without_a_text_changes_nothing(lab, boxes):
    from gpt2q_desktop.core.measure.quality import LayerScore

    panel, quantize_panel = lab.window.quality_panel, lab.window.quantize_panel
    panel.show_sensitivity([LayerScore("block 1", 1, 0.1, 0.9)], [])
    panel.blocks.item(0).setCheckState(Qt.CheckState.Checked)
    panel.text_path.setText("")
    panel.exclude_requested.emit()
    assert boxes == ["Choose a text file to evaluate on first."]
    assert quantize_panel.options().exclude_layers == ()
