"""The compare panel: a prompt box, run settings, which prompt the results are of (or that one is running), and
per runtime the FP32 | INT8 cards with the figures under them (two runtimes: a row each, and which INT8 is
fastest)."""

from __future__ import annotations

from typing import TYPE_CHECKING

from PySide6.QtCore import Qt, Signal
from PySide6.QtGui import QResizeEvent
from PySide6.QtWidgets import (
    QFrame,
    QHBoxLayout,
    QLabel,
    QLineEdit,
    QPushButton,
    QScrollArea,
    QSpinBox,
    QVBoxLayout,
    QWidget,
)

from gpt2q_desktop.core.measure.render import fastest_int8, noise_line
from gpt2q_desktop.core.options import RUN_RANGES, RunSettings
from gpt2q_desktop.core.runtimes import Runtime

from .runtime_result import RuntimeResult

if TYPE_CHECKING:
    from collections.abc import Sequence

    from gpt2q_desktop.core.results import ComparisonRow

PROMPT_MAX_CHARS = 10_000_000
"""The prompt box's limit (Qt's default is 32,767); a huge prompt is cut from the left later, with a note."""
CAPTION_CHARS = 40
"""The caption quotes a longer prompt by its start and end (the whole of it is in the tooltip)."""
TOOLTIP_CHARS = 2_000
CARDS_MAX_HEIGHT = 480
"""The cards take at most this many pixels of height from the history below them (with a large font, they
scroll instead)."""
NO_RESULT = "Run a prompt to see the next token of both models."


def quoted(prompt: str, chars: int = CAPTION_CHARS) -> str:
    """*prompt* on one line in quotes, its middle left out when it is longer than *chars*."""
    line = prompt.replace("\n", "↵")
    if len(line) > chars:
        line = f"{line[: chars // 2]}…{line[-(chars - chars // 2 - 1) :]}"
    return f"“{line}”"


def _spin(key: str, tip: str) -> QSpinBox:
    """A spin box over the range :data:`~gpt2q_desktop.core.options.RUN_RANGES` gives the run setting *key*."""
    box = QSpinBox()
    box.setRange(*RUN_RANGES[key])
    box.setToolTip(tip)
    return box


class ComparePanel(QWidget):
    """Type a prompt, press Enter: both models' next token side by side."""

    run_requested = Signal(str)

    def __init__(self, parent: QWidget | None = None) -> None:
        super().__init__(parent)
        self.prompt = QLineEdit()
        self.prompt.setPlaceholderText("Type a prompt and press Enter")
        self.prompt.setClearButtonEnabled(True)
        self.prompt.setMaxLength(PROMPT_MAX_CHARS)
        self.run_button = QPushButton("Run")
        self.run_button.setToolTip("Predict the next token with both models (Enter, Ctrl+R or F5)")
        prompt_row = QHBoxLayout()
        prompt_row.addWidget(self.prompt, 1)
        prompt_row.addWidget(self.run_button)

        settings = self._settings_row()

        self.caption = QLabel()
        """Which prompt the cards show, or that one is running."""
        self.fastest = QLabel()
        self.fastest.setTextInteractionFlags(Qt.TextInteractionFlag.TextSelectableByMouse)
        caption_row = QHBoxLayout()
        caption_row.addWidget(self.caption, 1)
        caption_row.addWidget(self.fastest)
        self._waiting = False
        """A compare started and has shown no result yet."""

        self.results = {runtime: RuntimeResult(runtime) for runtime in Runtime}
        self.note = QLabel()
        self.note.setWordWrap(True)
        self.note.hide()
        cards = QWidget()
        column = QVBoxLayout(cards)
        column.setContentsMargins(0, 0, 0, 0)
        for result in self.results.values():
            column.addWidget(result)
        column.addWidget(self.note)
        column.addStretch(1)
        self.cards_area = QScrollArea()
        """Scrolls only when the window's font is too large for the cards to fit."""
        self.cards_area.setWidget(cards)
        self.cards_area.setWidgetResizable(True)
        self.cards_area.setFrameShape(QFrame.Shape.NoFrame)
        self._runtimes: tuple[str, ...] = ()
        self.set_runtimes((Runtime.TORCH,))

        layout = QVBoxLayout(self)
        layout.addLayout(prompt_row)
        layout.addLayout(settings)
        layout.addLayout(caption_row)
        layout.addWidget(self.cards_area, 1)

        self.prompt.returnPressed.connect(self._request_run)
        self.run_button.clicked.connect(self._request_run)
        self.prompt.inputRejected.connect(self._note_rejected)

    def _settings_row(self) -> QHBoxLayout:
        """The timing settings' spin boxes, each after its label."""
        self.repeats = _spin("repeats", "Timed calls per model")
        self.warmup = _spin("warmup", "Untimed calls per model before timing")
        self.threads = _spin("threads", "Threads while timing, on either runtime")
        self.threads.setSpecialValueText("auto")
        self.top_k = _spin("top_k", "Top tokens shown per model")
        self._boxes = {"repeats": self.repeats, "warmup": self.warmup, "threads": self.threads, "top_k": self.top_k}
        settings = QHBoxLayout()
        for label, box in zip(("Repeats", "Warm-up", "Threads", "Top-k"), self._boxes.values()):
            settings.addWidget(QLabel(label))
            settings.addWidget(box)
        settings.addStretch(1)
        return settings

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
        """Show *settings* (a value past a box's range shows as the range's end: never an overflow)."""
        values = settings.as_dict()
        for key, box in self._boxes.items():
            box.setValue(min(max(values[key], box.minimum()), box.maximum()))

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
        self._fit_cards()
        self.fastest.clear()
        self.fastest.setVisible(len(runtimes) > 1)
        self._set_caption(NO_RESULT, "")

    def show_running(self, prompts: Sequence[str]) -> None:
        """A compare of *prompts* started: the previous results go, the caption says what runs."""
        for result in self.results.values():
            result.clear()
        self.fastest.clear()
        self._show_note("")
        what = quoted(prompts[0]) if len(prompts) == 1 else f"a list of {len(prompts):,} prompts"
        self._set_caption(f"Running {what}…", prompts[0] if len(prompts) == 1 else "")
        self._waiting = True

    def show_stopped(self) -> None:
        """No job is under way any more: a compare that showed no result says so."""
        if self._waiting:
            self._set_caption("The last run stopped before a result.", "")
        self._waiting = False

    def show_rows(self, rows: Sequence[ComparisonRow]) -> None:
        """A prompt's rows, one per runtime it ran on."""
        self.set_runtimes(tuple(row.runtime for row in rows))
        for row in rows:
            self.results[row.runtime].show_row(row)
        fastest = fastest_int8(rows)
        self.fastest.setText(f"<b>{fastest[:1].upper()}{fastest[1:]}</b>" if fastest else "")
        self._show_note("\n".join(filter(None, [rows[0].note, noise_line(rows)])))
        self._set_caption(f"Prompt {quoted(rows[0].prompt)}", rows[0].prompt)
        self._waiting = False

    def _set_caption(self, text: str, prompt: str) -> None:
        self.caption.setText(text)
        self.caption.setToolTip(prompt[:TOOLTIP_CHARS])

    def _show_note(self, text: str) -> None:
        """A line under the cards, shown only when there is something to say."""
        self.note.setText(text)
        self.note.setVisible(bool(text))
        self._fit_cards()

    def _fit_cards(self) -> None:
        """Ask for the height the cards and the note need (the window gives it, up to a limit, before the
        history gets any)."""
        spacing = self.cards_area.widget().layout().spacing()
        shown = [result for runtime, result in self.results.items() if runtime in self._runtimes]
        least = sum(result.minimumSizeHint().height() + spacing for result in shown)
        if self.note.text():
            least += self.note.heightForWidth(self.cards_area.viewport().width()) + spacing
        self.cards_area.setMinimumHeight(min(least, CARDS_MAX_HEIGHT))

    def resizeEvent(self, event: QResizeEvent) -> None:
        super().resizeEvent(event)
        self._fit_cards()  # the note's lines depend on the width
