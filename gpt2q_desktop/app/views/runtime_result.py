"""One runtime's answer to a prompt: its FP32 card, the figures that compare the two, its INT8 card."""

from __future__ import annotations

from typing import TYPE_CHECKING

from PySide6.QtCore import Qt
from PySide6.QtWidgets import QFormLayout, QHBoxLayout, QLabel, QWidget

from .colors import FP32, INT8, side_color, side_name
from .result_card import ResultCard

if TYPE_CHECKING:
    from ...core.compare import ComparisonRow


class RuntimeResult(QWidget):
    """FP32 | agreement, KL, top-5 overlap, speedup | INT8, all of one runtime; empty until :meth:`show_row`."""

    def __init__(self, runtime: str, parent: QWidget | None = None) -> None:
        super().__init__(parent)
        self.fp32_card = ResultCard(side_name(runtime, FP32), side_color(runtime, FP32))
        self.int8_card = ResultCard(side_name(runtime, INT8), side_color(runtime, INT8))
        self.agreement = QLabel()
        self.kl = QLabel()
        self.overlap = QLabel()
        self.speedup = QLabel()
        self._figures = figures = QFormLayout()
        figures.addRow("Agreement:", self.agreement)
        figures.addRow("KL:", self.kl)
        figures.addRow("Top-5 overlap:", self.overlap)
        figures.addRow("Speedup:", self.speedup)
        middle = QWidget()
        middle.setLayout(figures)
        layout = QHBoxLayout(self)
        layout.setContentsMargins(0, 0, 0, 0)
        layout.addWidget(self.fp32_card, 1)
        layout.addWidget(middle, 0, Qt.AlignmentFlag.AlignVCenter)
        layout.addWidget(self.int8_card, 1)
        self.clear()

    def show_row(self, row: ComparisonRow) -> None:
        self.fp32_card.show_side(row.fp32)
        self.int8_card.show_side(row.int8)
        self.agreement.setText("same token" if row.agree else "<b>different tokens</b>")
        self.kl.setText(f"{row.kl:.2e} nats")
        self.overlap.setText(f"{row.top5_overlap:.0%}")
        self.speedup.setText(f"<b>{row.speedup_text()}</b>" if row.noisy else row.speedup_text())
        self.speedup.setToolTip(row.noise_text())

    def clear(self) -> None:
        self.fp32_card.clear()
        self.int8_card.clear()
        for label in (self.agreement, self.kl, self.overlap, self.speedup):
            label.setText("–")

    def set_compact(self, compact: bool) -> None:
        """Compact cards, each figure under its name (narrower: the cards get the width); or the full size."""
        self.fp32_card.set_compact(compact)
        self.int8_card.set_compact(compact)
        wrap = QFormLayout.RowWrapPolicy.WrapAllRows if compact else QFormLayout.RowWrapPolicy.DontWrapRows
        self._figures.setRowWrapPolicy(wrap)
        self._figures.setVerticalSpacing(2 if compact else -1)
