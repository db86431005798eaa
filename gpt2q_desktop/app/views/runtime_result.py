"""One runtime's answer to a prompt: its FP32 and INT8 cards side by side, the figures that compare them under
both."""

from __future__ import annotations

from typing import TYPE_CHECKING

from PySide6.QtWidgets import QGridLayout, QHBoxLayout, QLabel, QWidget

from .colors import FP32, INT8, side_color, side_name
from .result_card import ResultCard

if TYPE_CHECKING:
    from gpt2q_desktop.core.results import ComparisonRow

FIGURE_GAP = 18
"""Pixels between two figures of the strip."""


class RuntimeResult(QWidget):
    """FP32 | INT8 of one runtime, with agreement, KL, top-5 overlap and speedup in a line under them; empty
    until :meth:`show_row`."""

    def __init__(self, runtime: str, parent: QWidget | None = None) -> None:
        super().__init__(parent)
        self.runtime = runtime
        self.fp32_card = ResultCard(side_name(runtime, FP32), side_color(runtime, FP32))
        self.int8_card = ResultCard(side_name(runtime, INT8), side_color(runtime, INT8))
        self.agreement = QLabel()
        self.kl = QLabel()
        self.overlap = QLabel()
        self.speedup = QLabel()
        figures = QHBoxLayout()
        figures.setSpacing(FIGURE_GAP // 3)
        figures.addStretch(1)
        for name, label in (
            ("Agreement:", self.agreement), ("KL:", self.kl), ("Top-5 overlap:", self.overlap),
            ("Speedup:", self.speedup),
        ):  # fmt: skip
            if figures.count() > 1:
                figures.addSpacing(FIGURE_GAP - figures.spacing())
            figures.addWidget(QLabel(name))
            figures.addWidget(label)
        figures.addStretch(1)
        layout = QGridLayout(self)
        layout.setContentsMargins(0, 0, 0, 0)
        layout.addWidget(self.fp32_card, 0, 0)
        layout.addWidget(self.int8_card, 0, 1)
        layout.addLayout(figures, 1, 0, 1, 2)
        layout.setColumnStretch(0, 1)
        layout.setColumnStretch(1, 1)
        self.clear()

    def show_row(self, row: ComparisonRow) -> None:
        self.fp32_card.show_side(row.fp32)
        self.int8_card.show_side(row.int8)
        self._name_int8(row.kernels)
        self.agreement.setText("same token" if row.agree else "<b>different tokens</b>")
        self.kl.setText(f"{row.kl:.2e} nats")
        self.overlap.setText(f"{row.top5_overlap:.0%}")
        self.speedup.setText(f"<b>{row.speedup_text()}</b>" if row.noisy else row.speedup_text())
        self.speedup.setToolTip(row.noise_text())

    def _name_int8(self, kernels: str | None) -> None:
        """The INT8 card's title, with the INT8 kernels it ran on when they are known: "PyTorch INT8 · qnnpack"."""
        on = f" · {kernels}" if kernels else ""
        self.int8_card.title.setText(f"<b>{side_name(self.runtime, INT8)}</b>{on}")
        self.int8_card.title.setToolTip(f"Ran on torch's {kernels} INT8 kernels" if kernels else "")

    def clear(self) -> None:
        self.fp32_card.clear()
        self.int8_card.clear()
        self._name_int8(None)
        for label in (self.agreement, self.kl, self.overlap, self.speedup):
            label.setText("–")

    def set_compact(self, compact: bool) -> None:
        """Compact cards (four share the panel); or the full size."""
        self.fp32_card.set_compact(compact)
        self.int8_card.set_compact(compact)
        self.layout().setVerticalSpacing(2 if compact else -1)
