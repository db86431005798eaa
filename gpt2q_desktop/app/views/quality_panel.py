"""The Quality lab: continuations side by side, a corpus evaluation, and the per-layer sensitivity ranking."""

from __future__ import annotations

from typing import TYPE_CHECKING

from PySide6.QtCore import Qt, Signal
from PySide6.QtGui import QResizeEvent
from PySide6.QtWidgets import (
    QBoxLayout,
    QFrame,
    QGroupBox,
    QHBoxLayout,
    QLabel,
    QLineEdit,
    QListWidget,
    QPushButton,
    QScrollArea,
    QSpinBox,
    QStyle,
    QVBoxLayout,
    QWidget,
)

from gpt2q_desktop.core.options import EVAL_TOKENS, SENSITIVITY_TOKENS

from ..jobs import LabTool
from .colors import FP32_COLOR, INT8_COLOR
from .continuation_view import ContinuationBox
from .job_progress import JobProgress
from .kl_histogram import EVALUATING, KlHistogram
from .quality_results import figures_form, sensitivity_item, show_figures
from .sensitivity_chart import MEASURING_SENSITIVITY, SensitivityChart

if TYPE_CHECKING:
    from gpt2q_desktop.core.measure.continuation import ContinuationPair
    from gpt2q_desktop.core.measure.quality import CorpusEval, LayerScore
    from gpt2q_desktop.core.options import ContinuationSettings


def _spin(low: int, high: int, value: int, tip: str, step: int = 1) -> QSpinBox:
    box = QSpinBox()
    box.setRange(low, high)
    box.setValue(value)
    box.setSingleStep(step)
    box.setGroupSeparatorShown(True)
    box.setToolTip(tip)
    return box


def _run_row(tokens: QSpinBox, run: QPushButton) -> QHBoxLayout:
    """A row: "Max tokens", the spin box, a gap, the Run button."""
    row = QHBoxLayout()
    row.addWidget(QLabel("Max tokens"))
    row.addWidget(tokens)
    row.addStretch(1)
    row.addWidget(run)
    return row


class QualityPanel(QWidget):
    """Lays out the three quality tools and the worker's activity; a controller gives the buttons meaning."""

    continuation_requested = Signal()
    evaluation_requested = Signal()
    sensitivity_requested = Signal()
    exclude_requested = Signal()
    choose_text_clicked = Signal()
    cancel_clicked = Signal()

    def __init__(self, parent: QWidget | None = None) -> None:
        super().__init__(parent)
        self._content = content = QWidget()
        column = QVBoxLayout(content)
        self.runtime_note = QLabel()
        self.runtime_note.setWordWrap(True)
        self.continuation = ContinuationBox()
        column.addWidget(self.runtime_note)
        column.addWidget(self.continuation)
        column.addLayout(self._text_row())
        self._tools = QBoxLayout(QBoxLayout.Direction.LeftToRight)
        """The corpus evaluation and the sensitivity ranking: side by side, or one under the other when narrow."""
        self._tools.addWidget(self._corpus_box(), 1)
        self._tools.addWidget(self._sensitivity_box(), 1)
        column.addLayout(self._tools)
        self.recipe = QLabel("INT8 model: not quantized yet.")
        self.recipe.setWordWrap(True)
        self.recipe.setTextInteractionFlags(Qt.TextInteractionFlag.TextSelectableByMouse)
        column.addWidget(self.recipe)
        column.addStretch(1)
        self._running: set[LabTool] = set()
        """The tools whose job started and has shown no result yet."""
        scroll = QScrollArea()
        scroll.setWidget(content)
        scroll.setWidgetResizable(True)
        scroll.setFrameShape(QFrame.Shape.NoFrame)

        self.job = JobProgress(self)
        self.cancel_button = QPushButton("Cancel")
        self.cancel_button.setToolTip("Stop the current job (Esc); nothing half-done is kept")
        self.cancel_button.setEnabled(False)
        activity = QHBoxLayout()
        activity.addWidget(self.job.bar, 1)
        activity.addWidget(self.job.step, 1)
        activity.addWidget(self.cancel_button)

        layout = QVBoxLayout(self)
        layout.setContentsMargins(0, 0, 0, layout.contentsMargins().bottom())
        layout.addWidget(scroll, 1)
        layout.addLayout(activity)
        self.continuation.requested.connect(self.continuation_requested)
        self.cancel_button.clicked.connect(self.cancel_clicked)

    # -- building -------------------------------------------------------------------------------
    def _text_row(self) -> QHBoxLayout:
        self.text_path = QLineEdit()
        self.text_path.setPlaceholderText("A UTF-8 text file to evaluate on")
        self.text_path.setToolTip("The corpus evaluation and the sensitivity ranking read this file")
        self.choose_text_button = QPushButton("Choose…")
        self.choose_text_button.setToolTip("Choose a text file")
        row = QHBoxLayout()
        row.addWidget(QLabel("Text"))
        row.addWidget(self.text_path, 1)
        row.addWidget(self.choose_text_button)
        self.choose_text_button.clicked.connect(self.choose_text_clicked)
        return row

    def resizeEvent(self, event: QResizeEvent) -> None:
        super().resizeEvent(event)
        self._arrange_tools()

    def _arrange_tools(self) -> None:
        """The two tools side by side when both fit at their least width (with the scroll bar), else stacked."""
        boxes = [self._tools.itemAt(i).widget() for i in range(self._tools.count())]
        margins = self._content.layout().contentsMargins()
        scrollbar = self.style().pixelMetric(QStyle.PixelMetric.PM_ScrollBarExtent)
        need = sum(box.minimumSizeHint().width() for box in boxes) + self._tools.spacing() + scrollbar
        wide = self.width() >= need + margins.left() + margins.right()
        direction = QBoxLayout.Direction.LeftToRight if wide else QBoxLayout.Direction.TopToBottom
        if self._tools.direction() != direction:
            self._tools.setDirection(direction)

    def _corpus_box(self) -> QGroupBox:
        box = QGroupBox("Corpus evaluation")
        self.eval_tokens = _spin(2, 10_000_000, EVAL_TOKENS, "Tokens of the text to evaluate, from its start", 1_000)
        self.evaluate_button = QPushButton("Run")
        self.evaluate_button.setToolTip("Compare FP32 and INT8 token by token over the text")
        row = _run_row(self.eval_tokens, self.evaluate_button)
        form, self.figures = figures_form()
        self.histogram = KlHistogram(INT8_COLOR)
        layout = QVBoxLayout(box)
        layout.addLayout(row)
        layout.addLayout(form)
        layout.addWidget(self.histogram, 1)
        self.evaluate_button.clicked.connect(self.evaluation_requested)
        return box

    def _sensitivity_box(self) -> QGroupBox:
        box = QGroupBox("Per-layer sensitivity")
        self.sensitivity_tokens = _spin(2, 100_000, SENSITIVITY_TOKENS, "Tokens of the text measured for each part", 128)
        self.sensitivity_button = QPushButton("Run")
        self.sensitivity_button.setToolTip("Quantize one part at a time and rank the parts by the KL each adds")
        row = _run_row(self.sensitivity_tokens, self.sensitivity_button)
        self.chart = SensitivityChart(FP32_COLOR)
        self.blocks = QListWidget()
        self.blocks.setToolTip("Check the blocks to keep in FP32")
        self.blocks.setMinimumHeight(80)
        self.blocks.setWordWrap(True)  # a row longer than the list is wide wraps, never cut
        self.blocks.setHorizontalScrollBarPolicy(Qt.ScrollBarPolicy.ScrollBarAlwaysOff)
        self.exclude_button = QPushButton("Exclude checked blocks and re-quantize")
        self.exclude_button.setToolTip(
            "Keep the checked blocks in FP32 (the quantize panel's FP32 blocks), quantize, then evaluate the text again"
        )
        self.exclude_button.setEnabled(False)
        caption = QLabel("Mean KL each part adds when it alone is INT8, in nats")
        caption.setWordWrap(True)
        layout = QVBoxLayout(box)
        layout.addLayout(row)
        layout.addWidget(caption)
        layout.addWidget(self.chart)
        layout.addWidget(self.blocks, 1)
        layout.addWidget(self.exclude_button)
        self.sensitivity_button.clicked.connect(self.sensitivity_requested)
        self.exclude_button.clicked.connect(self.exclude_requested)
        return box

    # -- what the controller reads --------------------------------------------------------------
    def continuation_settings(self) -> ContinuationSettings:
        return self.continuation.settings()

    def eval_budget(self) -> int:
        """Tokens of the text the corpus evaluation reads."""
        return self.eval_tokens.value()

    def sensitivity_budget(self) -> int:
        """Tokens of the text each part of the sensitivity ranking is measured on."""
        return self.sensitivity_tokens.value()

    def offer_prompt(self, text: str) -> None:
        """Take *text* as the continuation prompt, unless one was typed already."""
        if not self.continuation.prompt.text():
            self.continuation.prompt.setText(text)

    def prompt_text(self) -> str:
        return self.continuation.prompt.text()

    def text_file(self) -> str:
        """The text to evaluate on, as typed or chosen."""
        return self.text_path.text().strip()

    def set_text_file(self, path: str) -> None:
        self.text_path.setText(path)

    def checked_blocks(self) -> list[int]:
        """The block numbers checked in the ranking list."""
        items = (self.blocks.item(row) for row in range(self.blocks.count()))
        return sorted(
            item.data(Qt.ItemDataRole.UserRole)
            for item in items
            if item.data(Qt.ItemDataRole.UserRole) is not None and item.checkState() == Qt.CheckState.Checked
        )

    # -- what the controller shows --------------------------------------------------------------
    def enable_actions(self, *, start_jobs: bool, cancel: bool) -> None:
        """Enable the tools when a job may start; Cancel while one is queued or running."""
        for button in (self.continuation.run_button, self.evaluate_button, self.sensitivity_button):
            button.setEnabled(start_jobs)
        self.exclude_button.setEnabled(start_jobs and self.blocks.count() > 0)
        self.cancel_button.setEnabled(cancel)

    def show_runtime(self, text: str) -> None:
        """Where the lab's tools run, in words."""
        self.runtime_note.setText(text)

    def show_running(self, tool: LabTool) -> None:
        """A job of *tool* started: what it showed before goes, and it says that it runs."""
        self._running.add(tool)
        if tool == "continuation":
            self.continuation.show_running()
        elif tool == "evaluation":
            self._clear_figures()
            self.histogram.clear(EVALUATING)
        else:
            self.chart.clear(MEASURING_SENSITIVITY)
            self.blocks.clear()

    def show_stopped(self) -> None:
        """No job is under way any more: a tool still marked running (its job failed or was cancelled) is
        cleared."""
        if "continuation" in self._running:
            self.continuation.clear()
        if "evaluation" in self._running:
            self.histogram.clear()
        if "sensitivity" in self._running:
            self.chart.clear()
        self._running.clear()

    def show_continuation(self, pair: ContinuationPair, runtime_name: str, int8_before: float | None = None) -> None:
        """Both continuations, titled with the runtime they ran on (see ``ContinuationBox.show_pair``)."""
        self._running.discard("continuation")
        self.continuation.set_runtime_name(runtime_name)
        self.continuation.show_pair(pair, int8_before)

    def show_evaluation(self, result: CorpusEval, runtime_name: str, before: CorpusEval | None = None) -> None:
        """The core's figures and the runtime they are from; with *before* (the same text and runtime under the
        previous recipe), what they were."""
        self._running.discard("evaluation")
        show_figures(self.figures, result, runtime_name, before)
        self.histogram.set_histogram(result.kl_histogram, result.kl_bins)
        self._arrange_tools()  # the figures may have widened the corpus box

    def show_sensitivity(self, scores: list[LayerScore], excluded: list[int]) -> None:
        """The ranking as bars and as a list; block rows are checkable, those in *excluded* checked."""
        self._running.discard("sensitivity")
        self.chart.set_rows([(s.layer, s.kl_mean) for s in scores])
        self.blocks.clear()
        for score in scores:
            self.blocks.addItem(sensitivity_item(score, excluded))
        self._arrange_tools()

    def clear_results(self) -> None:
        """Forget what was shown for the previous checkpoint."""
        self.continuation.clear()
        self._clear_figures()
        self.histogram.clear()
        self.show_sensitivity([], [])

    def _clear_figures(self) -> None:
        for label in self.figures.values():
            label.setText("–")

    def show_recipe(self, text: str) -> None:
        self.recipe.setText(text)
