"""The Quality lab: continuations side by side, a corpus evaluation, and the per-layer sensitivity ranking."""

from __future__ import annotations

from typing import TYPE_CHECKING

from PySide6.QtCore import Qt, Signal
from PySide6.QtWidgets import (
    QButtonGroup,
    QDoubleSpinBox,
    QFrame,
    QGridLayout,
    QGroupBox,
    QHBoxLayout,
    QLabel,
    QLineEdit,
    QListWidget,
    QPushButton,
    QRadioButton,
    QScrollArea,
    QSpinBox,
    QVBoxLayout,
    QWidget,
)

from ...core.options import ContinuationSettings
from .compare_panel import FP32_COLOR, INT8_COLOR
from .continuation_view import continuation_html, divergence_text, reading_box
from .job_progress import JobProgress
from .kl_histogram import KlHistogram
from .quality_results import figures_form, ranking_item, show_figures
from .sensitivity_chart import SensitivityChart

if TYPE_CHECKING:
    from ...core.quality import ContinuationPair, CorpusEval, LayerScore


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
        content = QWidget()
        column = QVBoxLayout(content)
        column.addWidget(self._continuation_box())
        column.addLayout(self._text_row())
        tools = QHBoxLayout()
        tools.addWidget(self._corpus_box(), 1)
        tools.addWidget(self._sensitivity_box(), 1)
        column.addLayout(tools)
        self.recipe = QLabel("INT8 model: not quantized yet.")
        self.recipe.setWordWrap(True)
        self.recipe.setTextInteractionFlags(Qt.TextInteractionFlag.TextSelectableByMouse)
        column.addWidget(self.recipe)
        column.addStretch(1)
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
        layout.setContentsMargins(0, 0, 0, 0)
        layout.addWidget(scroll, 1)
        layout.addLayout(activity)
        self.cancel_button.clicked.connect(self.cancel_clicked)

    # -- building -------------------------------------------------------------------------------
    def _continuation_box(self) -> QGroupBox:
        box = QGroupBox("Continuation side by side")
        self.prompt = QLineEdit()
        self.prompt.setPlaceholderText("Type a prompt and press Enter")
        self.prompt.setClearButtonEnabled(True)
        self.continue_button = QPushButton("Run")
        self.continue_button.setToolTip("Let both models continue the prompt")
        prompt_row = QHBoxLayout()
        prompt_row.addWidget(self.prompt, 1)
        prompt_row.addWidget(self.continue_button)

        self.n_tokens = _spin(1, 1_024, 20, "Tokens each model generates (at most up to the context length)")
        self.greedy = QRadioButton("Greedy")
        self.greedy.setToolTip("Always take the most likely token")
        self.sample = QRadioButton("Sample")
        self.sample.setToolTip("Sample with this temperature; the same seed gives the same draws to both models")
        self.greedy.setChecked(True)
        group = QButtonGroup(self)
        group.addButton(self.greedy)
        group.addButton(self.sample)
        self.temperature = QDoubleSpinBox()
        self.temperature.setRange(0.05, 5.0)
        self.temperature.setSingleStep(0.1)
        self.temperature.setValue(1.0)
        self.temperature.setToolTip("Sampling temperature")
        self.seed = _spin(0, 2**31 - 1, 0, "Random seed of the sampling")
        settings = QHBoxLayout()
        settings.addWidget(QLabel("Tokens"))
        settings.addWidget(self.n_tokens)
        settings.addWidget(self.greedy)
        settings.addWidget(self.sample)
        settings.addWidget(QLabel("Temperature"))
        settings.addWidget(self.temperature)
        settings.addWidget(QLabel("Seed"))
        settings.addWidget(self.seed)
        settings.addStretch(1)
        self.sample.toggled.connect(self.temperature.setEnabled)
        self.sample.toggled.connect(self.seed.setEnabled)
        self.temperature.setEnabled(False)
        self.seed.setEnabled(False)

        fp32_box, self.fp32_text, self.fp32_latency = reading_box("FP32")
        int8_box, self.int8_text, self.int8_latency = reading_box("INT8")
        texts = QHBoxLayout()
        texts.addWidget(fp32_box, 1)
        texts.addWidget(int8_box, 1)
        self.divergence = QLabel("–")
        self.divergence.setWordWrap(True)

        layout = QVBoxLayout(box)
        layout.addLayout(prompt_row)
        layout.addLayout(settings)
        layout.addLayout(texts, 1)
        layout.addWidget(self.divergence)
        self.prompt.returnPressed.connect(self.continuation_requested)
        self.continue_button.clicked.connect(self.continuation_requested)
        return box

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

    def _corpus_box(self) -> QGroupBox:
        box = QGroupBox("Corpus evaluation")
        self.eval_tokens = _spin(2, 10_000_000, 4_000, "Tokens of the text to evaluate, from its start", 1_000)
        self.evaluate_button = QPushButton("Run")
        self.evaluate_button.setToolTip("Compare FP32 and INT8 token by token over the text")
        row = _run_row(self.eval_tokens, self.evaluate_button)
        form, self.figures = figures_form()
        self.histogram = KlHistogram(INT8_COLOR)
        layout = QVBoxLayout(box)
        layout.addLayout(row)
        layout.addLayout(form)
        layout.addWidget(QLabel("Per-token KL (nats)"))
        layout.addWidget(self.histogram, 1)
        self.evaluate_button.clicked.connect(self.evaluation_requested)
        return box

    def _sensitivity_box(self) -> QGroupBox:
        box = QGroupBox("Per-layer sensitivity")
        self.rank_tokens = _spin(2, 100_000, 512, "Tokens of the text measured for each part", 128)
        self.rank_button = QPushButton("Run")
        self.rank_button.setToolTip("Quantize one part at a time and rank the parts by the KL each adds")
        row = _run_row(self.rank_tokens, self.rank_button)
        self.chart = SensitivityChart(FP32_COLOR)
        self.blocks = QListWidget()
        self.blocks.setToolTip("Check the blocks to keep in FP32")
        self.blocks.setMinimumHeight(80)
        self.exclude_button = QPushButton("Exclude checked blocks and re-quantize")
        self.exclude_button.setToolTip(
            "Keep the checked blocks in FP32 (the quantize panel's FP32 blocks), quantize, then evaluate the text again"
        )
        self.exclude_button.setEnabled(False)
        layout = QGridLayout(box)
        layout.addLayout(row, 0, 0)
        layout.addWidget(self.chart, 1, 0)
        layout.addWidget(self.blocks, 2, 0)
        layout.addWidget(self.exclude_button, 3, 0)
        self.rank_button.clicked.connect(self.sensitivity_requested)
        self.exclude_button.clicked.connect(self.exclude_requested)
        return box

    # -- what the controller reads --------------------------------------------------------------
    def continuation_settings(self) -> ContinuationSettings:
        temperature = self.temperature.value() if self.sample.isChecked() else 0.0
        return ContinuationSettings(n_tokens=self.n_tokens.value(), temperature=temperature, seed=self.seed.value())

    def eval_budget(self) -> int:
        """Tokens of the text the corpus evaluation reads."""
        return self.eval_tokens.value()

    def rank_budget(self) -> int:
        """Tokens of the text each part of the sensitivity ranking is measured on."""
        return self.rank_tokens.value()

    def offer_prompt(self, text: str) -> None:
        """Take *text* as the continuation prompt, unless one was typed already."""
        if not self.prompt.text():
            self.prompt.setText(text)

    def prompt_text(self) -> str:
        return self.prompt.text()

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
    def set_job_state(self, can_start: bool, busy: bool) -> None:
        """Enable the tools when a job may start; Cancel while one is queued or running."""
        for button in (self.continue_button, self.evaluate_button, self.rank_button):
            button.setEnabled(can_start)
        self.exclude_button.setEnabled(can_start and self.blocks.count() > 0)
        self.cancel_button.setEnabled(busy)

    def show_continuation(
        self, pair: ContinuationPair, fp32_ms: float | None, int8_ms: float | None, int8_before: float | None = None
    ) -> None:
        """Both continuations, the first diverging token highlighted, the median milliseconds per token (and
        INT8's under the previous recipe, *int8_before*, when the same prompt ran before)."""
        for text, side, latency, ms, before in (
            (self.fp32_text, pair.fp32, self.fp32_latency, fp32_ms, None),
            (self.int8_text, pair.int8, self.int8_latency, int8_ms, int8_before),
        ):
            text.setHtml(continuation_html(pair.prompt, side.tokens, pair.first_divergence))
            was = "" if before is None else f" (was {before:.2f})"
            latency.setText("– ms per token" if ms is None else f"median {ms:.2f} ms per token{was}")
        self.divergence.setText(divergence_text(pair))

    def show_evaluation(self, result: CorpusEval, before: CorpusEval | None = None) -> None:
        """The core's figures; with *before* (the same text under the previous recipe), what they were."""
        show_figures(self.figures, result, before)
        self.histogram.set_histogram(result.kl_histogram, result.kl_bins)

    def show_ranking(self, scores: list[LayerScore], excluded: list[int]) -> None:
        """The ranking as bars and as a list; block rows are checkable, those in *excluded* checked."""
        self.chart.set_rows([(s.layer, s.kl_mean) for s in scores])
        self.blocks.clear()
        for score in scores:
            self.blocks.addItem(ranking_item(score, excluded))

    def clear_results(self) -> None:
        """Forget what was shown for the previous checkpoint."""
        for text, latency in ((self.fp32_text, self.fp32_latency), (self.int8_text, self.int8_latency)):
            text.clear()
            latency.setText("– ms per token")
        self.divergence.setText("–")
        for label in self.figures.values():
            label.setText("–")
        self.histogram.clear()
        self.show_ranking([], [])

    def show_recipe(self, text: str) -> None:
        self.recipe.setText(text)
