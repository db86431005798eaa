"""The compare panel: a prompt box, run settings, and per runtime the FP32 | INT8 cards with the figures between
them (two runtimes: a row each, and which INT8 is fastest)."""

from __future__ import annotations

import os
from typing import TYPE_CHECKING

from PySide6.QtCore import Qt, Signal
from PySide6.QtWidgets import (
    QGroupBox,
    QHBoxLayout,
    QLabel,
    QLineEdit,
    QPushButton,
    QSpinBox,
    QVBoxLayout,
    QWidget,
)

from ...core.options import RUNTIME_NAMES, TORCH, RunSettings
from ...core.report import fastest_int8, noise_line
from .runtime_result import RuntimeResult

if TYPE_CHECKING:
    from collections.abc import Sequence

    from ...core.compare import ComparisonRow

PROMPT_MAX_CHARS = 10_000_000
"""The prompt box's limit (Qt's default is 32,767); a huge prompt is cut from the left later, with a note."""


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
        self.threads = _spin(0, os.cpu_count() or 1, "Threads while timing, on either runtime")
        self.threads.setSpecialValueText("auto")
        self.top_k = _spin(1, 50, "Top tokens shown per model")
        self._boxes = {"repeats": self.repeats, "warmup": self.warmup, "threads": self.threads, "top_k": self.top_k}
        settings = QHBoxLayout()
        for label, box in zip(("Repeats", "Warm-up", "Threads", "Top-k"), self._boxes.values()):
            settings.addWidget(QLabel(label))
            settings.addWidget(box)
        settings.addStretch(1)

        self.results = {runtime: RuntimeResult(runtime) for runtime in RUNTIME_NAMES}
        self.fastest = QLabel()
        self.fastest.setTextInteractionFlags(Qt.TextInteractionFlag.TextSelectableByMouse)
        cards = QVBoxLayout()
        cards.addWidget(self.fastest)
        for result in self.results.values():
            cards.addWidget(result, 1)
        self._runtimes: tuple[str, ...] = ()
        self.set_runtimes((TORCH,))
        self.note = QLabel()
        self.note.setWordWrap(True)
        self.note.hide()

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
        self._show_note(
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

    def set_runtimes(self, runtimes: tuple[str, ...]) -> None:
        """Lay out the results of *runtimes* (compact cards when there are several); a change clears them."""
        if runtimes == self._runtimes:
            return
        self._runtimes = runtimes
        for runtime, result in self.results.items():
            result.clear()
            result.set_compact(len(runtimes) > 1)
            result.setVisible(runtime in runtimes)
        self.fastest.clear()
        self.fastest.setVisible(len(runtimes) > 1)

    def show_rows(self, rows: Sequence[ComparisonRow]) -> None:
        """A prompt's rows, one per runtime it ran on."""
        self.set_runtimes(tuple(row.runtime for row in rows))
        for row in rows:
            self.results[row.runtime].show_row(row)
        fastest = fastest_int8(rows)
        self.fastest.setText(f"<b>{fastest[:1].upper()}{fastest[1:]}</b>" if fastest else "")
        self._show_note("\n".join(filter(None, [rows[0].note, noise_line(rows)])))

    def _show_note(self, text: str) -> None:
        """A line under the cards, shown only when there is something to say."""
        self.note.setText(text)
        self.note.setVisible(bool(text))
