"""One model's side of the comparison (FP32 or INT8 on a runtime): next token, its id and probability, top-k
bars, latency; compact (shorter rows, smaller token) when four cards share the panel."""

from __future__ import annotations

from typing import TYPE_CHECKING

from PySide6.QtCore import QMargins, QRectF, QSize, Qt
from PySide6.QtGui import QColor, QPainter, QPaintEvent
from PySide6.QtWidgets import QBoxLayout, QFrame, QLabel, QVBoxLayout, QWidget

from ...core.text import visible_token
from ..display import prob_text

if TYPE_CHECKING:
    from ...core.compare import SideResult


class TopBars(QWidget):
    """Horizontal probability bars, one per top token, drawn with QPainter; the top token's bar is full width."""

    ROW = 22
    COMPACT_ROW = 14

    def __init__(self, color: QColor, parent: QWidget | None = None) -> None:
        super().__init__(parent)
        self._color = color
        self._row = self.ROW
        self._items: list[tuple[str, float]] = []
        self.setMinimumHeight(self._row * 5)
        self.setToolTip("Top tokens; bar lengths are relative to the most likely token, the numbers are probabilities")

    @property
    def items(self) -> list[tuple[str, float]]:
        return list(self._items)

    def set_items(self, items: list[tuple[str, float]]) -> None:
        self._items = list(items)
        self._fit()

    def set_compact(self, compact: bool) -> None:
        self._row = self.COMPACT_ROW if compact else self.ROW
        self._fit()

    def _fit(self) -> None:
        self.setMinimumHeight(self._row * max(5, len(self._items)))
        self.updateGeometry()
        self.update()

    def sizeHint(self) -> QSize:
        return QSize(260, self._row * max(5, len(self._items)))

    def paintEvent(self, event: QPaintEvent) -> None:
        p = QPainter(self)
        p.setRenderHint(QPainter.RenderHint.Antialiasing)
        label_w = min(110.0, self.width() * 0.4)
        bar_w = max(self.width() - label_w - 60.0, 10.0)
        text = self.palette().windowText().color()
        scale = max((prob for _, prob in self._items), default=0.0) or 1.0
        row, gap = self._row, self._row // 5
        for i, (token, prob) in enumerate(self._items):
            y = i * row
            p.setPen(text)
            right = Qt.AlignmentFlag.AlignRight | Qt.AlignmentFlag.AlignVCenter
            p.drawText(QRectF(0, y, label_w - 6, row), right, token)
            p.fillRect(QRectF(label_w, y + gap, bar_w, row - 2 * gap), self.palette().alternateBase())
            p.fillRect(QRectF(label_w, y + gap, bar_w * max(0.0, min(prob / scale, 1.0)), row - 2 * gap), self._color)
            p.drawText(QRectF(label_w + bar_w + 4, y, 56, row), Qt.AlignmentFlag.AlignVCenter, prob_text(prob))
        p.end()


TOKEN_SCALE, COMPACT_TOKEN_SCALE = 1.8, 1.3
"""The next token's size, relative to the window's font."""


class ResultCard(QFrame):
    """A card that shows one model's answer; empty until :meth:`show_side` is called."""

    def __init__(self, title: str, color: QColor, parent: QWidget | None = None) -> None:
        super().__init__(parent)
        self.setFrameShape(QFrame.Shape.StyledPanel)
        self.title = QLabel(f"<b>{title}</b>")
        self.token = QLabel()
        self.token.setTextInteractionFlags(Qt.TextInteractionFlag.TextSelectableByMouse)
        self.detail = QLabel()
        self.bars = TopBars(color)
        self.latency = QLabel()
        self._answer = QBoxLayout(QBoxLayout.Direction.TopToBottom)
        """The token, and its id and probability: under it, or beside it when compact."""
        self._answer.setContentsMargins(0, 0, 0, 0)
        self._answer.addWidget(self.token)
        self._answer.addWidget(self.detail)
        self._layout = QVBoxLayout(self)
        self._layout.addWidget(self.title)
        self._layout.addLayout(self._answer)
        self._layout.addWidget(self.bars)
        self._layout.addWidget(self.latency)
        self.set_compact(False)
        self.clear()

    def set_compact(self, compact: bool) -> None:
        """Shorter bars, a smaller token with its id and probability beside it, tighter spacing (four cards in
        the panel); or the full size."""
        font = self.font()
        font.setPointSizeF(font.pointSizeF() * (COMPACT_TOKEN_SCALE if compact else TOKEN_SCALE))
        self.token.setFont(font)
        self.bars.set_compact(compact)
        direction = QBoxLayout.Direction.LeftToRight if compact else QBoxLayout.Direction.TopToBottom
        self._answer.setDirection(direction)
        self._answer.setSpacing(8 if compact else -1)
        self._layout.setSpacing(2 if compact else -1)
        style_margins = QMargins(-1, -1, -1, -1)  # -1: the style's own
        self._layout.setContentsMargins(QMargins(6, 4, 6, 4) if compact else style_margins)

    def clear(self) -> None:
        self.token.setText("–")
        self.detail.setText("id – · p –")
        self.bars.set_items([])
        self.latency.setText("median – ms · p90 – ms")

    def show_side(self, side: SideResult) -> None:
        self.token.setText(visible_token(side.token))
        self.detail.setText(f"id {side.token_id} · p {prob_text(side.prob)}")
        self.bars.set_items([(visible_token(t.token), t.prob) for t in side.top])
        self.latency.setText(f"median {side.timing.median_ms:.2f} ms · p90 {side.timing.p90_ms:.2f} ms")
