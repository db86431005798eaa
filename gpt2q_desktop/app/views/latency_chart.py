"""A small bar chart of FP32 vs INT8 median latency per prompt, drawn with QPainter (no QtCharts)."""

from __future__ import annotations

from PySide6.QtCore import QRectF, QSize, Qt
from PySide6.QtGui import QColor, QPainter, QPaintEvent
from PySide6.QtWidgets import QWidget

MAX_PROMPTS = 40
"""The chart shows the most recent prompts only."""


class LatencyChart(QWidget):
    """Pairs of bars (FP32, INT8) per prompt, newest on the right."""

    def __init__(self, fp32: QColor, int8: QColor, parent: QWidget | None = None) -> None:
        super().__init__(parent)
        self._colors = (fp32, int8)
        self._points: list[tuple[float, float]] = []
        self.setMinimumSize(220, 140)
        self.setToolTip("Median latency per prompt: FP32 (blue) and INT8 (orange)")

    @property
    def points(self) -> list[tuple[float, float]]:
        return list(self._points)

    def set_points(self, points: list[tuple[float, float]]) -> None:
        """``(fp32_median_ms, int8_median_ms)`` per prompt, oldest first."""
        self._points = list(points)[-MAX_PROMPTS:]
        self.update()

    def sizeHint(self) -> QSize:
        return QSize(320, 180)

    def paintEvent(self, event: QPaintEvent) -> None:
        p = QPainter(self)
        text = self.palette().windowText().color()
        p.setPen(text)
        plot = QRectF(44, 22, max(self.width() - 54, 10), max(self.height() - 40, 10))
        if not self._points:
            p.drawText(self.rect(), Qt.AlignmentFlag.AlignCenter, "Latency per prompt appears here")
            p.end()
            return
        top = max(max(a, b) for a, b in self._points) or 1.0
        p.drawText(QRectF(0, plot.top() - 6, 40, 14), Qt.AlignmentFlag.AlignRight, f"{top:.1f}")
        p.drawText(QRectF(0, plot.bottom() - 8, 40, 14), Qt.AlignmentFlag.AlignRight, "0 ms")
        p.drawLine(plot.bottomLeft(), plot.bottomRight())
        group = plot.width() / len(self._points)
        bar = max(group * 0.4, 1.0)
        for i, values in enumerate(self._points):
            for j, value in enumerate(values):
                h = plot.height() * value / top
                x = plot.left() + i * group + group * 0.1 + j * bar
                p.fillRect(QRectF(x, plot.bottom() - h, bar, h), self._colors[j])
        for j, name in enumerate(("FP32", "INT8")):
            x = plot.left() + j * 70
            p.fillRect(QRectF(x, 4, 10, 10), self._colors[j])
            p.drawText(QRectF(x + 14, 0, 56, 18), Qt.AlignmentFlag.AlignVCenter, name)
        p.end()
