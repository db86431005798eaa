"""The Quality lab's continuation box: a prompt, how to continue it, both models' text side by side (the
coloured text, the verdict) and their speed."""

from __future__ import annotations

import html
from typing import TYPE_CHECKING

from PySide6.QtCore import Signal
from PySide6.QtWidgets import (
    QButtonGroup,
    QDoubleSpinBox,
    QGroupBox,
    QHBoxLayout,
    QLabel,
    QLineEdit,
    QPushButton,
    QRadioButton,
    QSpinBox,
    QTextEdit,
    QVBoxLayout,
    QWidget,
)

from gpt2q_desktop.core.options import ContinuationSettings
from gpt2q_desktop.core.runtimes import Runtime, runtime_label
from gpt2q_desktop.core.text import counted, visible_token

if TYPE_CHECKING:
    from gpt2q_desktop.core.measure.continuation import Continuation, ContinuationPair

DIVERGENCE_COLOR = "#ffd966"
PROMPT_COLOR = "#808080"
CONTINUING = "Both models are continuing the prompt…"


def shown_token(token: str) -> str:
    """A generated token as the lab shows it: made visible only when it is whitespace (or empty)."""
    return token if token.strip() else visible_token(token)


def continuation_html(prompt: str, tokens: tuple[str, ...], divergence: int | None) -> str:
    """The prompt in grey, then the tokens; the token at *divergence* on a coloured background."""
    parts = [f'<span style="color:{PROMPT_COLOR}">{html.escape(prompt)}</span>']
    for i, token in enumerate(tokens):
        text = html.escape(shown_token(token))
        parts.append(f'<span style="background-color:{DIVERGENCE_COLOR}">{text}</span>' if i == divergence else text)
    return f'<div style="white-space:pre-wrap">{"".join(parts)}</div>'


def divergence_text(pair: ContinuationPair) -> str:
    """Where the two continuations part (or that they agree), with the core's note if any."""
    if pair.first_divergence is None:
        verdict = f"The two continuations agree on all {len(pair.fp32.tokens)} tokens."
    else:
        i = pair.first_divergence
        fp32 = shown_token(pair.fp32.tokens[i]) if i < len(pair.fp32.tokens) else "–"
        int8 = shown_token(pair.int8.tokens[i]) if i < len(pair.int8.tokens) else "–"
        verdict = f"They part at token {i + 1}: FP32 “{fp32}”, INT8 “{int8}”."
    if pair.note:
        verdict += f" Note: {pair.note}."
    noise = pair.noise_text()
    return f"{verdict} {noise[:1].upper()}{noise[1:]}." if noise else verdict


def latency_text(side: Continuation, before: float | None, noisy: bool) -> str:
    """Median and p90 milliseconds per token after the first (the first token's alone when it is the only
    one), and the median the same prompt had before (*before*)."""
    flag = " (unreliable)" if noisy else ""
    if side.median_ms is None or side.p90_ms is None:
        return "– ms per token" if side.prompt_ms is None else f"first token {side.prompt_ms:.2f} ms{flag}"
    was = "" if before is None else f" (was {before:.2f})"
    return f"median {side.median_ms:.2f} ms · p90 {side.p90_ms:.2f} ms per token{was}{flag}"


def latency_tip(side: Continuation, threads: int) -> str:
    """How the latency was taken: the prompt's step apart, then the later tokens in turn with the other model."""
    if side.prompt_ms is None:
        return ""
    tip = f"Prompt read and first token: {side.prompt_ms:.2f} ms"
    if side.step_ms:
        tip += f"; then {counted(len(side.step_ms), 'token')} timed, one step of each model in turn"
    return f"{tip}, on {counted(threads, 'thread')}, after an untimed warm-up"


def reading_box() -> tuple[QWidget, QLabel, QTextEdit, QLabel]:
    """A titled read-only text with a latency line under it: the box, its title, the text, the latency."""
    box = QWidget()
    title = QLabel()
    text = QTextEdit()
    text.setReadOnly(True)
    text.setMinimumHeight(70)
    text.setMaximumHeight(140)
    latency = QLabel("– ms per token")
    layout = QVBoxLayout(box)
    layout.setContentsMargins(0, 0, 0, 0)
    layout.addWidget(title)
    layout.addWidget(text, 1)
    layout.addWidget(latency)
    return box, title, text, latency


def _spin(low: int, high: int, value: int, tip: str) -> QSpinBox:
    box = QSpinBox()
    box.setRange(low, high)
    box.setValue(value)
    box.setGroupSeparatorShown(True)
    box.setToolTip(tip)
    return box


class ContinuationBox(QGroupBox):
    """Both models of one runtime continue a prompt, side by side; a controller gives Run its meaning."""

    requested = Signal()

    def __init__(self, parent: QWidget | None = None) -> None:
        super().__init__("Continuation side by side", parent)
        self.prompt = QLineEdit()
        self.prompt.setPlaceholderText("Type a prompt and press Enter")
        self.prompt.setClearButtonEnabled(True)
        self.run_button = QPushButton("Run")
        self.run_button.setToolTip("Let both models continue the prompt")
        prompt_row = QHBoxLayout()
        prompt_row.addWidget(self.prompt, 1)
        prompt_row.addWidget(self.run_button)
        fp32_box, self.fp32_title, self.fp32_text, self.fp32_latency = reading_box()
        int8_box, self.int8_title, self.int8_text, self.int8_latency = reading_box()
        texts = QHBoxLayout()
        texts.addWidget(fp32_box, 1)
        texts.addWidget(int8_box, 1)
        self.divergence = QLabel("–")
        self.divergence.setWordWrap(True)
        layout = QVBoxLayout(self)
        layout.addLayout(prompt_row)
        layout.addLayout(self._settings_row())
        layout.addLayout(texts, 1)
        layout.addWidget(self.divergence)
        self.set_runtime_name(runtime_label(Runtime.TORCH))
        self.prompt.returnPressed.connect(self.requested)
        self.run_button.clicked.connect(self.requested)

    def _settings_row(self) -> QHBoxLayout:
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
        row = QHBoxLayout()
        for widget in (
            QLabel("Tokens"), self.n_tokens, self.greedy, self.sample,
            QLabel("Temperature"), self.temperature, QLabel("Seed"), self.seed,
        ):  # fmt: skip
            row.addWidget(widget)
        row.addStretch(1)
        self.sample.toggled.connect(self.temperature.setEnabled)
        self.sample.toggled.connect(self.seed.setEnabled)
        self.temperature.setEnabled(False)
        self.seed.setEnabled(False)
        return row

    def settings(self) -> ContinuationSettings:
        temperature = self.temperature.value() if self.sample.isChecked() else 0.0
        return ContinuationSettings(n_tokens=self.n_tokens.value(), temperature=temperature, seed=self.seed.value())

    def set_runtime_name(self, name: str) -> None:
        """Title the two texts with the runtime their models ran on."""
        self.fp32_title.setText(f"<b>{name} FP32</b>")
        self.int8_title.setText(f"<b>{name} INT8</b>")

    def show_pair(self, pair: ContinuationPair, int8_before: float | None = None) -> None:
        """Both continuations, the first diverging token highlighted, the milliseconds per token (and INT8's
        median under the previous recipe, *int8_before*, when the same prompt ran before)."""
        for text, side, latency, before in (
            (self.fp32_text, pair.fp32, self.fp32_latency, None),
            (self.int8_text, pair.int8, self.int8_latency, int8_before),
        ):
            text.setHtml(continuation_html(pair.prompt, side.tokens, pair.first_divergence))
            latency.setText(latency_text(side, before, pair.noisy))
            latency.setToolTip(latency_tip(side, pair.threads))
        self.divergence.setText(divergence_text(pair))

    def clear(self, verdict: str = "–") -> None:
        """Empty texts, no speeds; *verdict* where the verdict goes."""
        for text, latency in ((self.fp32_text, self.fp32_latency), (self.int8_text, self.int8_latency)):
            text.clear()
            latency.setText("– ms per token")
        self.divergence.setText(verdict)

    def show_running(self) -> None:
        """Both models are continuing the prompt: the previous continuations go."""
        self.clear(CONTINUING)
