"""The layout holds from 1024 × 640 up: an enforced minimum size, cards whose text is whole and in view (two and
four cards, after a real compare), remembered splitters; stale results are cleared the moment
a job starts; charts on honest scales with named axes and units."""

from __future__ import annotations

from collections.abc import Callable
from typing import Any

from PySide6.QtCore import QObject, QPoint, QRect, QSize, Qt, Slot
from PySide6.QtGui import QColor, QFontMetrics
from PySide6.QtWidgets import QApplication, QLabel, QWidget

from gpt2q_desktop.app.jobs import CompareJob, ContinueJob, EvaluateJob, SensitivityJob
from gpt2q_desktop.app.views.continuation_view import CONTINUING
from gpt2q_desktop.app.views.kl_histogram import EMPTY as NO_HISTOGRAM
from gpt2q_desktop.app.views.kl_histogram import EVALUATING
from gpt2q_desktop.app.views.latency_chart import LatencyChart
from gpt2q_desktop.app.views.result_card import TopBars
from gpt2q_desktop.app.views.sensitivity_chart import MEASURING_SENSITIVITY
from tests.app.test_history_store import fake_row
from tests.conftest import TRAIN_TEXT

LIMIT = QSize(1024, 640)
"""The issue's smallest size: the window must hold at it."""


def _settle(window: QWidget, size: QSize) -> None:
    window.resize(size)
    for _ in range(3):
        QApplication.processEvents()


def _unclipped(label: QLabel, viewport: QWidget) -> str | None:
    """Why *label* does not show its whole text inside *viewport* (None when it does)."""
    if label.wordWrap():
        if label.heightForWidth(label.width()) > label.height():
            return f"{label.text()!r} wraps to more lines than it has room for"
    elif label.sizeHint().width() > label.width():
        return f"{label.text()!r} needs {label.sizeHint().width()} px, has {label.width()}"
    shown = QRect(label.mapTo(viewport, QPoint(0, 0)), label.size())
    if not viewport.rect().contains(shown):
        return f"{label.text()!r} lies outside the visible area ({shown} in {viewport.rect()})"
    return None


class AtStart(QObject):
    """Calls *look* with every job as the window sees it start: on the GUI thread, after the controllers."""

    def __init__(self, app, look: Callable[[Any], object]) -> None:
        super().__init__(app.window)
        self.look = look
        app.runner.worker.started.connect(self._on_started)

    @Slot(object)
    def _on_started(self, job: Any) -> None:
        self.look(job)


def _clipped_labels(app) -> list[str]:
    """Every text of the shown result cards and figures that is cut or out of view."""
    panel = app.window.compare_panel
    viewport = panel.cards_area.viewport()
    problems = []
    for result in panel.results.values():
        if result.isVisible():
            problems += [why for label in result.findChildren(QLabel) if (why := _unclipped(label, viewport))]
            for card in (result.fp32_card, result.int8_card):
                if card.bars.width() < card.bars.minimumSizeHint().width():
                    problems.append(f"{card.title.text()}: the bars are squeezed")
    return problems


def test_the_window_never_gets_smaller_than_its_minimum(make_app):
    window = make_app().window
    minimum = window.minimumSize()
    assert minimum.width() <= LIMIT.width() and minimum.height() <= LIMIT.height()
    assert minimum.width() >= 960 and minimum.height() >= 600, "below this the cards do not fit"
    _settle(window, QSize(640, 480))
    assert window.width() >= minimum.width() and window.height() >= minimum.height()
    _settle(window, LIMIT)
    assert window.size() == LIMIT, "the panels ask for more than 1024 × 640"


def test_card_texts_are_whole_and_in_view_at_1024_by_640_with_two_and_four_cards(make_app, run, trained_checkpoint, onnx_cache):
    app = make_app(trained_checkpoint)
    window, panel = app.window, app.window.compare_panel
    window.quantize_panel.set_runtime_choice("both")
    run(app, lambda: app.run_prompt("The sky is"))
    assert window.minimumSize().boundedTo(LIMIT) == window.minimumSize()
    _settle(window, LIMIT)  # the minimum size (the panels may not ask for more)
    assert window.size() == LIMIT
    assert all(panel.results[r].isVisible() for r in ("torch", "onnxruntime"))
    assert panel.results["onnxruntime"].int8_card.latency.text().startswith("median ")
    assert _clipped_labels(app) == []

    window.quantize_panel.set_runtime_choice("torch")
    run(app, lambda: app.run_prompt("The cat sat on the mat and the dog"))
    _settle(window, LIMIT)
    assert not panel.results["onnxruntime"].isVisible()
    assert panel.results["torch"].fp32_card.latency.text().startswith("median ")
    assert _clipped_labels(app) == []
    assert panel.caption.text() == "Prompt “The cat sat on the mat and the dog”"


def test_splitter_positions_are_remembered(make_app):
    first = make_app(restore=True)
    _settle(first.window, LIMIT)
    main, top, history = first.window._splitters
    main.setSizes([380, 190])
    top.setSizes([400, 600])
    history.setSizes([500, 500])
    sizes = [s.sizes() for s in first.window._splitters]
    first.window.close()
    second = make_app(restore=True)
    _settle(second.window, LIMIT)
    assert [s.sizes() for s in second.window._splitters] == sizes


def test_a_new_compare_clears_the_previous_cards_at_once(make_app, run, tiny_checkpoint):
    app = make_app(tiny_checkpoint)
    panel = app.window.compare_panel
    card = panel.results["torch"].int8_card
    run(app, lambda: app.run_prompt("The cat sat on the"))
    assert card.token.text() != "–" and card.bars.items
    seen: list[tuple[str, str, int, str]] = []

    def at_start(job):
        if isinstance(job, CompareJob):
            seen.append(
                (card.token.text(), panel.results["torch"].kl.text(), len(card.bars.items), panel.caption.text())
            )

    AtStart(app, at_start)
    run(app, lambda: app.run_prompt("Once upon a time"))
    assert seen == [("–", "–", 0, "Running “Once upon a time”…")]
    assert card.token.text() != "–" and panel.caption.text() == "Prompt “Once upon a time”"

    run(app, lambda: app.run_prompt("   "))  # refused by the worker: no result, and the caption says so
    assert card.token.text() == "–" and panel.caption.text() == "The last run stopped before a result."


def test_a_new_quality_job_clears_what_its_tool_showed_at_once(make_app, run, tmp_path, tiny_checkpoint):
    corpus = tmp_path / "corpus.txt"
    corpus.write_text(TRAIN_TEXT * 3, encoding="utf-8")
    app = make_app(tiny_checkpoint)
    app.window.tabs.setCurrentWidget(app.window.quality_panel)
    lab = app.window.quality_panel
    lab.text_path.setText(str(corpus))
    lab.eval_tokens.setValue(200)
    lab.sensitivity_tokens.setValue(64)
    lab.continuation.prompt.setText("The cat sat on the")
    lab.continuation.n_tokens.setValue(3)
    for request in (lab.continuation_requested, lab.evaluation_requested, lab.sensitivity_requested):
        run(app, request.emit)
    assert lab.continuation.int8_text.toPlainText() and lab.figures["Tokens"].text() == "200" and lab.chart.rows

    seen: dict[type, tuple] = {}

    def at_start(job):
        seen[type(job)] = {
            ContinueJob: (lab.continuation.int8_text.toPlainText(), lab.continuation.divergence.text()),
            EvaluateJob: (lab.figures["Tokens"].text(), lab.histogram.bars, lab.histogram.note),
            SensitivityJob: (lab.chart.rows, lab.blocks.count(), lab.chart.note),
        }[type(job)]

    AtStart(app, at_start)
    for request in (lab.continuation_requested, lab.evaluation_requested, lab.sensitivity_requested):
        run(app, request.emit)
    assert seen == {ContinueJob: ("", CONTINUING), EvaluateJob: ("–", [], EVALUATING), SensitivityJob: ([], 0, MEASURING_SENSITIVITY)}

    lab.text_path.setText(str(tmp_path / "missing.txt"))  # fails: the tool does not stay marked as running
    run(app, lab.evaluation_requested.emit)
    assert lab.histogram.note == NO_HISTOGRAM and lab.figures["Tokens"].text() == "–"


def test_the_history_prompt_column_stays_readable_eliding_in_the_middle(make_app):
    app = make_app()
    prompt = "Once upon a time there was a little girl who lived in a village near the forest, and every day"
    app.history_controller.add(fake_row(prompt, "demo"))
    window, table = app.window, app.window.history_panel.table
    _settle(window, window.minimumSize())
    index = table.model().index(0, 0)
    assert index.data(Qt.ItemDataRole.ToolTipRole) == prompt
    assert table.textElideMode() == Qt.TextElideMode.ElideMiddle and not table.wordWrap()
    width = table.columnWidth(0)
    metrics = QFontMetrics(table.font())
    assert width >= metrics.horizontalAdvance("x" * 24), "the prompt column collapsed"
    shown = metrics.elidedText(index.data(), Qt.TextElideMode.ElideMiddle, width - 8)
    assert shown.startswith("Once upon") and shown.endswith("every day") and "…" in shown
    assert 0 <= table.columnViewportPosition(0) < table.viewport().width()


def _filled(bars: TopBars, color: QColor) -> list[int]:
    """How many pixels of *color* each row of *bars* shows, across its middle."""
    image = bars.grab().toImage()
    row = bars.height() // max(len(bars.items), 5)
    return [
        sum(image.pixelColor(x, i * row + row // 2) == color for x in range(image.width()))
        for i in range(len(bars.items))
    ]


def test_probability_bars_are_on_an_absolute_scale(qtbot):
    color = QColor("#d9822b")
    bars = TopBars(color)
    qtbot.addWidget(bars)
    bars.resize(400, 110)
    bars.set_items([(f"t{i}", 1.4e-4) for i in range(5)])  # flat: nothing is likely
    assert max(_filled(bars, color)) <= 2
    bars.set_items([("a", 0.5), ("b", 0.25)])
    half, quarter = _filled(bars, color)
    assert abs(half - bars.bar_width() / 2) <= 2 and abs(quarter - bars.bar_width() / 4) <= 2
    assert "full bar is probability 1" in bars.toolTip()


def test_sensitivity_labels_are_whole(make_app):
    window = make_app().window
    chart = window.quality_panel.chart
    rows = [("lm_head + embeddings", 5.27e-4), ("block 0", 2.4e-4), ("block 11", 1e-5)]
    chart.set_rows(rows)
    window.tabs.setCurrentWidget(window.quality_panel)
    _settle(window, window.minimumSize())
    label_w, _ = chart.columns()
    assert label_w > chart.fontMetrics().horizontalAdvance("lm_head + embeddings")
    assert chart.width() >= chart.minimumSizeHint().width()


def test_the_latency_chart_names_its_axis_and_its_prompts(qtbot):
    chart = LatencyChart([("PyTorch FP32", QColor("blue")), ("PyTorch INT8", QColor("orange"))])
    qtbot.addWidget(chart)
    chart.resize(400, 200)
    chart.set_points([(282.3, 140.0), (20.0, 10.0)], ["The sky is", "Once upon a time"])
    assert chart.prompts == ["The sky is", "Once upon a time"]
    plot = chart._plot()
    tip = chart.tip_at(plot.left() + plot.width() * 0.25)
    assert tip.splitlines() == ["The sky is", "PyTorch FP32: 282.30 ms", "PyTorch INT8: 140.00 ms"]
    assert chart.tip_at(plot.left() + plot.width() * 0.75).startswith("Once upon a time")
    assert chart._label(0, 200) == "The sky is" and chart._label(1, 8) == "2"
