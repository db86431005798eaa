"""One side of the comparison (FP32 or INT8): next token, its id and probability, top-k bars, latency."""

from __future__ import annotations

from typing import TYPE_CHECKING

from PySide6.QtCore import QRectF, QSize, Qt
from PySide6.QtGui import QColor, QPainter, QPaintEvent
from PySide6.QtWidgets import QFrame, QLabel, QVBoxLayout, QWidget

from ...core.text import visible_token
from ..display import prob_text

if TYPE_CHECKING:
    from ...core.compare import SideResult


class TopBars(QWidget):
    """Horizontal probability bars, one per top token, drawn with QPainter; the top token's bar is full width."""

    ROW = 22

    def __init__(self, color: QColor, parent: QWidget | None = None) -> None:
        super().__init__(parent)
        self._color = color
        self._items: list[tuple[str, float]] = []
        self.setMinimumHeight(self.ROW * 5)
        self.setToolTip("Top tokens; bar lengths are relative to the most likely token, the numbers are probabilities")

    @property
    def items(self) -> list[tuple[str, float]]:
        return list(self._items)

    def set_items(self, items: list[tuple[str, float]]) -> None:
        self._items = list(items)
        self.setMinimumHeight(self.ROW * max(5, len(self._items)))
        self.update()

    def sizeHint(self) -> QSize:
        return QSize(260, self.ROW * max(5, len(self._items)))

    def paintEvent(self, event: QPaintEvent) -> None:
        p = QPainter(self)
        p.setRenderHint(QPainter.RenderHint.Antialiasing)
        label_w = min(110.0, self.width() * 0.4)
        bar_w = max(self.width() - label_w - 60.0, 10.0)
        text = self.palette().windowText().color()
        scale = max((prob for _, prob in self._items), default=0.0) or 1.0
        for i, (token, prob) in enumerate(self._items):
            y = i * self.ROW
            p.setPen(text)
            right = Qt.AlignmentFlag.AlignRight | Qt.AlignmentFlag.AlignVCenter
            p.drawText(QRectF(0, y, label_w - 6, self.ROW), right, token)
            p.fillRect(QRectF(label_w, y + 4, bar_w, self.ROW - 8), self.palette().alternateBase())
            p.fillRect(QRectF(label_w, y + 4, bar_w * max(0.0, min(prob / scale, 1.0)), self.ROW - 8), self._color)
            p.drawText(QRectF(label_w + bar_w + 4, y, 56, self.ROW), Qt.AlignmentFlag.AlignVCenter, prob_text(prob))
        p.end()


class ResultCard(QFrame):
    """A card that shows one model's answer; empty until :meth:`show_side` is called."""

    def __init__(self, title: str, color: QColor, parent: QWidget | None = None) -> None:
        super().__init__(parent)
        self.setFrameShape(QFrame.Shape.StyledPanel)
        self.title = QLabel(f"<b>{title}</b>")
        self.token = QLabel("–")
        font = self.token.font()
        font.setPointSizeF(font.pointSizeF() * 1.8)
        self.token.setFont(font)
        self.token.setTextInteractionFlags(Qt.TextInteractionFlag.TextSelectableByMouse)
        self.detail = QLabel("id – · p –")
        self.bars = TopBars(color)
        self.latency = QLabel("median – ms · p90 – ms")
        layout = QVBoxLayout(self)
        layout.addWidget(self.title)
        layout.addWidget(self.token)
        layout.addWidget(self.detail)
        layout.addWidget(self.bars)
        layout.addWidget(self.latency)

    def show_side(self, side: SideResult) -> None:
        self.token.setText(visible_token(side.token))
        self.detail.setText(f"id {side.token_id} · p {prob_text(side.prob)}")
        self.bars.set_items([(visible_token(t.token), t.prob) for t in side.top])
        self.latency.setText(f"median {side.timing.median_ms:.2f} ms · p90 {side.timing.p90_ms:.2f} ms")
