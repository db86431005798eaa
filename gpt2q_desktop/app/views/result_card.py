"""One model's side of the comparison (FP32 or INT8 on a runtime): next token, its id and probability, top-k
bars, latency; compact (shorter rows, smaller token) when four cards share the panel."""

from __future__ import annotations

from typing import TYPE_CHECKING

from PySide6.QtCore import QMargins, QRectF, QSize, Qt
from PySide6.QtGui import QColor, QPainter, QPaintEvent
from PySide6.QtWidgets import QBoxLayout, QFrame, QLabel, QSizePolicy, QVBoxLayout, QWidget

from gpt2q_desktop.core.text import visible_token

from ..display import prob_text

if TYPE_CHECKING:
    from gpt2q_desktop.core.results import SideResult


MAX_TOKEN_W = 140
"""The token column of the bars is at most this many pixels wide."""


class TopBars(QWidget):
    """Horizontal probability bars, one per top token, drawn with QPainter on an absolute scale: a full bar is
    probability 1, so a flat distribution shows as five slivers."""

    ROW = 22
    COMPACT_ROW = 14
    MIN_BAR = 60
    """The bars' track is never narrower than this many pixels."""

    def __init__(self, color: QColor, parent: QWidget | None = None) -> None:
        super().__init__(parent)
        self._color = color
        self._row = self.ROW
        self._items: list[tuple[str, float]] = []
        self.setSizePolicy(QSizePolicy.Policy.Expanding, QSizePolicy.Policy.Fixed)
        self._fit()

    @property
    def items(self) -> list[tuple[str, float]]:
        return list(self._items)

    def set_items(self, items: list[tuple[str, float]]) -> None:
        self._items = list(items)
        lines = [f"{token}  p {prob_text(prob)}" for token, prob in self._items]
        self.setToolTip("\n".join(["Top tokens; a full bar is probability 1", *lines]))
        self._fit()

    def set_compact(self, compact: bool) -> None:
        self._row = self.COMPACT_ROW if compact else self.ROW
        self._fit()

    def _fit(self) -> None:
        self.setFixedHeight(self._height())
        self.updateGeometry()
        self.update()

    def _columns(self) -> tuple[float, float]:
        """The widths of the token column (a longer token is elided, whole in the tooltip) and of the
        probability column, in pixels."""
        metrics = self.fontMetrics()
        widest = max((metrics.horizontalAdvance(token) for token, _ in self._items), default=0)
        token_w = min(max(widest, metrics.horizontalAdvance("xxxxx")) + 6, MAX_TOKEN_W)
        return float(token_w), float(metrics.horizontalAdvance("8.8e-88") + 8)

    def bar_widths(self) -> list[float]:
        """The filled length of each bar, in pixels (the track is ``bar_width()`` long)."""
        return [self.bar_width() * max(0.0, min(prob, 1.0)) for _, prob in self._items]

    def bar_width(self) -> float:
        label_w, value_w = self._columns()
        return max(self.width() - label_w - value_w - 4, 10.0)

    def _height(self) -> int:
        return self._row * max(5, len(self._items))

    def minimumSizeHint(self) -> QSize:
        label_w, value_w = self._columns()
        return QSize(int(label_w + value_w) + self.MIN_BAR + 4, self._height())

    def sizeHint(self) -> QSize:
        return QSize(max(260, self.minimumSizeHint().width()), self._height())

    def paintEvent(self, event: QPaintEvent) -> None:
        p = QPainter(self)
        label_w, _ = self._columns()
        bar_w = self.bar_width()
        text = self.palette().windowText().color()
        row, gap = self._row, self._row // 5
        right = Qt.AlignmentFlag.AlignRight | Qt.AlignmentFlag.AlignVCenter
        metrics = p.fontMetrics()
        for i, ((token, prob), filled) in enumerate(zip(self._items, self.bar_widths())):
            y = i * row
            p.setPen(text)
            shown = metrics.elidedText(token, Qt.TextElideMode.ElideMiddle, int(label_w - 6))
            p.drawText(QRectF(0, y, label_w - 6, row), right, shown)
            p.fillRect(QRectF(label_w, y + gap, bar_w, row - 2 * gap), self.palette().alternateBase())
            p.fillRect(QRectF(label_w, y + gap, max(filled, 1.0), row - 2 * gap), self._color)
            value = QRectF(label_w + bar_w + 4, y, self.width() - label_w - bar_w - 4, row)
            p.drawText(value, Qt.AlignmentFlag.AlignVCenter, prob_text(prob))
        p.end()


TOKEN_SCALE, COMPACT_TOKEN_SCALE = 1.8, 1.3
"""The next token's size, relative to the window's font."""


class ResultCard(QFrame):
    """A card that shows one model's answer; empty until :meth:`show_side` is called."""

    def __init__(self, title: str, color: QColor, parent: QWidget | None = None) -> None:
        super().__init__(parent)
        self.setFrameShape(QFrame.Shape.StyledPanel)
        self.setSizePolicy(QSizePolicy.Policy.Preferred, QSizePolicy.Policy.Maximum)  # as tall as its content
        self.title = QLabel(f"<b>{title}</b>")
        self.token = QLabel()
        self.token.setTextInteractionFlags(Qt.TextInteractionFlag.TextSelectableByMouse)
        self.detail = QLabel()
        self.bars = TopBars(color)
        self.latency = QLabel()
        self._answer = QBoxLayout(QBoxLayout.Direction.TopToBottom)
        """The token, and its id and probability: under it, or beside it after the title when compact."""
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
        """Shorter bars, the title, a smaller token and its id and probability in one line, tighter spacing (four
        cards in the panel); or the full size."""
        font = self.font()
        font.setPointSizeF(font.pointSizeF() * (COMPACT_TOKEN_SCALE if compact else TOKEN_SCALE))
        self.token.setFont(font)
        self.bars.set_compact(compact)
        self._layout.removeWidget(self.title)
        self._answer.removeWidget(self.title)
        if compact:
            self._answer.insertWidget(0, self.title)
        else:
            self._layout.insertWidget(0, self.title)
        side = Qt.AlignmentFlag.AlignRight if compact else Qt.AlignmentFlag.AlignLeft
        self.detail.setAlignment(side | Qt.AlignmentFlag.AlignVCenter)
        direction = QBoxLayout.Direction.LeftToRight if compact else QBoxLayout.Direction.TopToBottom
        self._answer.setDirection(direction)
        self._answer.setStretchFactor(self.detail, 1 if compact else 0)  # the token right after the title
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
