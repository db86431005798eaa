"""The per-layer sensitivity ranking as horizontal bars (KL each part adds alone), drawn with QPainter."""

from __future__ import annotations

from PySide6.QtCore import QRectF, QSize, Qt
from PySide6.QtGui import QColor, QPainter, QPaintEvent
from PySide6.QtWidgets import QWidget


class SensitivityChart(QWidget):
    """One bar per part, in the order given (most sensitive first); lengths relative to the largest KL."""

    ROW = 22

    def __init__(self, color: QColor, parent: QWidget | None = None) -> None:
        super().__init__(parent)
        self._color = color
        self._rows: list[tuple[str, float]] = []
        self.setMinimumHeight(self.ROW * 3)
        self.setToolTip("Mean KL(FP32‖INT8) in nats when only this part is INT8; longest bar = most sensitive")

    @property
    def rows(self) -> list[tuple[str, float]]:
        return list(self._rows)

    def set_rows(self, rows: list[tuple[str, float]]) -> None:
        """``(label, kl_mean)`` per part, most sensitive first."""
        self._rows = list(rows)
        self.setMinimumHeight(self.ROW * max(3, len(self._rows)))
        self.updateGeometry()
        self.update()

    def sizeHint(self) -> QSize:
        return QSize(320, self.ROW * max(3, len(self._rows)))

    def paintEvent(self, event: QPaintEvent) -> None:
        p = QPainter(self)
        text = self.palette().windowText().color()
        p.setPen(text)
        if not self._rows:
            p.drawText(self.rect(), Qt.AlignmentFlag.AlignCenter, "The sensitivity ranking appears here")
            p.end()
            return
        widest = max(p.fontMetrics().horizontalAdvance(label) for label, _ in self._rows)
        label_w = min(widest + 12.0, self.width() * 0.45)
        bar_w = max(self.width() - label_w - 70.0, 10.0)
        scale = max((kl for _, kl in self._rows), default=0.0) or 1.0
        right = Qt.AlignmentFlag.AlignRight | Qt.AlignmentFlag.AlignVCenter
        for i, (label, kl) in enumerate(self._rows):
            y = i * self.ROW
            shown = p.fontMetrics().elidedText(label, Qt.TextElideMode.ElideRight, int(label_w - 6))
            p.drawText(QRectF(0, y, label_w - 6, self.ROW), right, shown)
            p.fillRect(QRectF(label_w, y + 4, bar_w, self.ROW - 8), self.palette().alternateBase())
            p.fillRect(QRectF(label_w, y + 4, bar_w * max(0.0, min(kl / scale, 1.0)), self.ROW - 8), self._color)
            p.drawText(QRectF(label_w + bar_w + 4, y, 66, self.ROW), Qt.AlignmentFlag.AlignVCenter, f"{kl:.2e}")
        p.end()
