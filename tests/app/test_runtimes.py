"""The Runtime choice: PyTorch, ONNX Runtime or both, from the quantize panel to the session, the cards, the history,
its exports and the chart; quantizing on ONNX Runtime shows its stages and its report; the Quality lab runs on it."""

from __future__ import annotations

import csv
import inspect

import pytest

from gpt2q_desktop.app.jobs import CompareJob, EvaluateJob, QuantizeJob
from gpt2q_desktop.app.models.history_model import HEADERS
from gpt2q_desktop.core.measure.render import fastest_int8
from gpt2q_desktop.core.session import Session
from gpt2q_desktop.core.text import visible_token
from tests.app.conftest import of_job
from tests.conftest import TRAIN_TEXT

BOTH = ("torch", "onnxruntime")


def _spy(monkeypatch, name: str) -> list[dict]:
    """The arguments (defaults included) of every call of ``Session.<name>``, which still runs."""
    calls: list[dict] = []
    real = getattr(Session, name)
    signature = inspect.signature(real)

    def spy(self, *args, **kwargs):
        bound = signature.bind(self, *args, **kwargs)
        bound.apply_defaults()
        calls.append(bound.arguments)
        return real(self, *args, **kwargs)

    monkeypatch.setattr(Session, name, spy)
    return calls


def test_pytorch_is_the_default_and_the_choice_is_remembered(make_app, tiny_checkpoint):
    first = make_app(tiny_checkpoint, restore=True)
    panel = first.window.quantize_panel
    assert panel.runtime_choice() == "torch" and panel.runtimes() == ("torch",)
    assert [panel.runtime.itemText(i) for i in range(panel.runtime.count())] == ["PyTorch", "ONNX Runtime", "Both"]
    panel.set_runtime_choice("both")
    assert first.window.compare_panel.results["onnxruntime"].isVisible()
    first.window.close()
    second = make_app(restore=True)
    assert second.window.quantize_panel.runtime_choice() == "both" and second.settings.runtime == "both"
    assert second.window.compare_panel.results["onnxruntime"].isVisible()


def test_both_runtimes_show_four_results_and_two_history_rows(
    make_app, run, monkeypatch, tmp_path, trained_checkpoint, onnx_cache
):
    compared = _spy(monkeypatch, "compare")
    app = make_app(trained_checkpoint)
    window, panel = app.window, app.window.compare_panel
    jobs: list = []
    app.runner.worker.started.connect(jobs.append)
    window.quantize_panel.set_runtime_choice("both")
    run(app, lambda: app.run_prompt("The cat sat on the"))

    assert [job.runtimes for job in jobs if isinstance(job, CompareJob)] == [BOTH]
    assert [call["runtimes"] for call in compared] == [BOTH]
    rows = app.history.rows
    assert [row.runtime for row in rows] == list(BOTH) and {row.prompt for row in rows} == {"The cat sat on the"}
    for row in rows:
        result = panel.results[row.runtime]
        assert result.isVisible()
        assert result.fp32_card.token.text() == visible_token(row.fp32.token)
        assert result.int8_card.token.text() == visible_token(row.int8.token)
        assert result.kl.text() == f"{row.kl:.2e} nats" and row.speedup_text() in result.speedup.text()
    assert panel.results["onnxruntime"].int8_card.title.text() == "<b>ONNX Runtime INT8</b>"
    said = fastest_int8(rows)  # the core's words, shown as they are: on a busy machine they say the timing is noisy
    assert panel.fastest.isVisible() and panel.fastest.text() == f"<b>{said[:1].upper()}{said[1:]}</b>"
    if not any(row.noisy for row in rows):
        fastest = min(rows, key=lambda row: row.int8.timing.median_ms)
        name = {"torch": "PyTorch", "onnxruntime": "ONNX Runtime"}[fastest.runtime]
        assert f"Fastest INT8: {name}" in panel.fastest.text() and "than PyTorch FP32" in panel.fastest.text()

    result_lines = window.quantize_panel.result.text().splitlines()
    assert result_lines[0].startswith("PyTorch: ") and result_lines[1].startswith("ONNX Runtime: ")
    assert all("linear layers INT8" in line for line in result_lines[:2])

    column = HEADERS.index("Runtime")
    assert [app.history.index(r, column).data() for r in range(2)] == [f"PyTorch ({rows[0].kernels})", "ONNX Runtime"]
    medians = [t for row in rows for t in (row.fp32.timing.median_ms, row.int8.timing.median_ms)]
    assert window.history_panel.chart.points == [tuple(medians)]

    assert app.history_controller.save_to(str(tmp_path / "h.csv"))
    with (tmp_path / "h.csv").open(encoding="utf-8", newline="") as fh:
        assert [line["runtime"] for line in csv.DictReader(fh)] == list(BOTH)
    assert app.history_controller.save_to(str(tmp_path / "h.md"))
    markdown = (tmp_path / "h.md").read_text(encoding="utf-8")
    assert "| runtime |" in markdown and "| ONNX Runtime |" in markdown


def test_quantizing_on_onnx_runtime_shows_its_stages_and_its_report(
    make_app, run, monkeypatch, trained_checkpoint, prebuilt_onnx_build
):
    quantized = _spy(monkeypatch, "quantize")
    app = make_app(trained_checkpoint)
    panel = app.window.quantize_panel
    steps: list[str] = []
    app.runner.worker.progress.connect(lambda job, done, total, message: steps.append(message))
    panel.set_runtime_choice("onnxruntime")
    run(app, app.quantize)
    assert any(step.startswith("Tracing the FP32 model into an ONNX graph") for step in steps)
    assert any(step.startswith("Quantizing the ONNX graph to INT8") for step in steps)
    assert panel.result.text().startswith("ONNX Runtime: ") and "linear layers INT8" in panel.result.text()
    assert "MB →" in panel.result.text() and "\n" not in panel.result.text()

    jobs: list = []
    app.runner.worker.started.connect(jobs.append)
    panel.set_runtime_choice("both")  # the ONNX Runtime report stays: it is of the same recipe
    assert panel.result.text().startswith("ONNX Runtime: ")
    run(app, app.quantize)
    assert [job.runtimes for job in jobs if isinstance(job, QuantizeJob)] == [BOTH]
    assert [call["runtime"] for call in quantized] == ["onnxruntime", *BOTH]
    lines = panel.result.text().splitlines()
    assert lines[0].startswith("PyTorch: ") and lines[1].startswith("ONNX Runtime: ") and "from cache" in lines[1]

    panel.set_runtime_choice("torch")  # one runtime chosen: its report alone, as before
    assert panel.result.text() == lines[0].removeprefix("PyTorch: ")


def test_the_quality_lab_runs_on_the_chosen_runtime_and_says_so(
    make_app, run, qtbot, monkeypatch, tmp_path, trained_checkpoint, onnx_cache
):
    evaluated, continued = _spy(monkeypatch, "evaluate"), _spy(monkeypatch, "continue_prompt")
    corpus = tmp_path / "corpus.txt"
    corpus.write_text(TRAIN_TEXT * 3, encoding="utf-8")
    app = make_app(trained_checkpoint)
    app.window.quantize_panel.set_runtime_choice("onnxruntime")
    app.window.tabs.setCurrentWidget(app.window.quality_panel)
    panel = app.window.quality_panel
    assert "run on ONNX Runtime;" in panel.runtime_note.text()
    panel.text_path.setText(str(corpus))
    panel.eval_tokens.setValue(200)
    with qtbot.waitSignal(app.runner.worker.produced, timeout=120_000, check_params_cb=of_job(EvaluateJob)) as shown:
        run(app, panel.evaluation_requested.emit)
    got = shown.args[1]
    assert [call["runtime"] for call in evaluated] == ["onnxruntime"]
    assert panel.figures["Runtime"].text() == "ONNX Runtime" and panel.figures["Tokens"].text() == "200"
    assert panel.recipe.text().startswith("INT8 model (per-tensor") and "ONNX Runtime: " in panel.recipe.text()

    session = Session()  # the core's own figures, from the ONNX models the window stored
    session.open(trained_checkpoint)
    expected = session.evaluate(corpus, 200, app.window.quantize_panel.options(), runtime="onnxruntime")
    for name in ("ppl_fp32", "ppl_int8", "kl_mean", "top1_agreement"):
        assert getattr(got, name) == pytest.approx(getattr(expected, name), rel=1e-5), name

    panel.continuation.prompt.setText("The cat sat on the")
    panel.continuation.n_tokens.setValue(5)
    run(app, panel.continuation_requested.emit)
    assert [call["runtime"] for call in continued] == ["onnxruntime"]
    box = panel.continuation
    assert (box.fp32_title.text(), box.int8_title.text()) == ("<b>ONNX Runtime FP32</b>", "<b>ONNX Runtime INT8</b>")
    assert box.int8_text.toPlainText().startswith("The cat sat on the") and box.int8_latency.text().startswith("median")

    app.window.quantize_panel.set_runtime_choice("both")  # one runtime in the lab: PyTorch, and it says so
    assert "run on PyTorch (with Both chosen, the lab uses PyTorch)" in panel.runtime_note.text()
