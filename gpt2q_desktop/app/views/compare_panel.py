"""The compare panel: a prompt box, run settings, and the FP32 | INT8 cards with the figures between them."""

from __future__ import annotations

import os
from typing import TYPE_CHECKING

from PySide6.QtCore import Qt, Signal
from PySide6.QtGui import QColor
from PySide6.QtWidgets import (
    QFormLayout,
    QGroupBox,
    QHBoxLayout,
    QLabel,
    QLineEdit,
    QPushButton,
    QSpinBox,
    QVBoxLayout,
    QWidget,
)

from ...core.options import RunSettings
from .result_card import ResultCard

if TYPE_CHECKING:
    from ...core.compare import ComparisonRow

PROMPT_MAX_CHARS = 10_000_000
"""The prompt box's limit (Qt's default is 32,767); a huge prompt is cut from the left later, with a note."""

FP32_COLOR = QColor("#4f7cac")
INT8_COLOR = QColor("#d9822b")


def _spin(low: int, high: int, tip: str) -> QSpinBox:
    box = QSpinBox()
    box.setRange(low, high)
    box.setToolTip(tip)
    return box


class ComparePanel(QGroupBox):
    """Type a prompt, press Enter: both models' next token side by side."""

    run_requested = Signal(str)

    def __init__(self, parent: QWidget | None = None) -> None:
        super().__init__("Compare FP32 and INT8", parent)
        self.prompt = QLineEdit()
        self.prompt.setPlaceholderText("Type a prompt and press Enter")
        self.prompt.setClearButtonEnabled(True)
        self.prompt.setMaxLength(PROMPT_MAX_CHARS)
        self.run_button = QPushButton("Run")
        self.run_button.setToolTip("Predict the next token with both models (Enter, Ctrl+R or F5)")
        prompt_row = QHBoxLayout()
        prompt_row.addWidget(self.prompt, 1)
        prompt_row.addWidget(self.run_button)

        self.repeats = _spin(1, 10_000, "Timed calls per model")
        self.warmup = _spin(0, 1_000, "Untimed calls per model before timing")
        self.threads = _spin(0, os.cpu_count() or 1, "Torch threads while timing")
        self.threads.setSpecialValueText("auto")
        self.top_k = _spin(1, 50, "Top tokens shown per model")
        self._boxes = {"repeats": self.repeats, "warmup": self.warmup, "threads": self.threads, "top_k": self.top_k}
        settings = QHBoxLayout()
        for label, box in zip(("Repeats", "Warm-up", "Threads", "Top-k"), self._boxes.values()):
            settings.addWidget(QLabel(label))
            settings.addWidget(box)
        settings.addStretch(1)

        self.fp32_card = ResultCard("FP32", FP32_COLOR)
        self.int8_card = ResultCard("INT8", INT8_COLOR)
        self.agreement = QLabel("–")
        self.kl = QLabel("–")
        self.overlap = QLabel("–")
        self.speedup = QLabel("–")
        middle = QFormLayout()
        middle.addRow("Agreement:", self.agreement)
        middle.addRow("KL:", self.kl)
        middle.addRow("Top-5 overlap:", self.overlap)
        middle.addRow("Speedup:", self.speedup)
        middle_box = QWidget()
        middle_box.setLayout(middle)
        cards = QHBoxLayout()
        cards.addWidget(self.fp32_card, 1)
        cards.addWidget(middle_box, 0, Qt.AlignmentFlag.AlignVCenter)
        cards.addWidget(self.int8_card, 1)
        self.note = QLabel()
        self.note.setWordWrap(True)

        layout = QVBoxLayout(self)
        layout.addLayout(prompt_row)
        layout.addLayout(settings)
        layout.addLayout(cards, 1)
        layout.addWidget(self.note)

        self.prompt.returnPressed.connect(self._request_run)
        self.run_button.clicked.connect(self._request_run)
        self.prompt.inputRejected.connect(self._note_rejected)

    def _note_rejected(self) -> None:
        """Say so when typed or pasted text did not fit in the prompt box (never cut silently)."""
        self.note.setText(
            f"Not all of the text fit: the prompt box holds at most {self.prompt.maxLength():,} characters, "
            "and the rest was left out."
        )

    def _request_run(self) -> None:
        self.run_requested.emit(self.prompt.text())

    def settings(self) -> RunSettings:
        """How prompts are timed (threads 0 = automatic)."""
        return RunSettings(**{key: box.value() for key, box in self._boxes.items()})

    def set_settings(self, settings: RunSettings) -> None:
        values = settings.as_dict()
        for key, box in self._boxes.items():
            box.setValue(values[key])

    def prompt_text(self) -> str:
        return self.prompt.text()

    def focus_prompt(self) -> None:
        self.prompt.setFocus()

    def show_row(self, row: ComparisonRow) -> None:
        self.fp32_card.show_side(row.fp32)
        self.int8_card.show_side(row.int8)
        self.agreement.setText("same token" if row.agree else "<b>different tokens</b>")
        self.kl.setText(f"{row.kl:.2e} nats")
        self.overlap.setText(f"{row.top5_overlap:.0%}")
        self.speedup.setText(f"{row.speedup:.2f}× faster" if row.speedup >= 1 else f"{row.speedup:.2f}× (slower)")
        self.note.setText(row.note)
