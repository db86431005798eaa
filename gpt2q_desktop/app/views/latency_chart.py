"""A small bar chart of the median latency of every model per prompt, drawn with QPainter (no QtCharts)."""

from __future__ import annotations

from collections.abc import Sequence

from PySide6.QtCore import QRectF, QSize, Qt
from PySide6.QtGui import QColor, QPainter, QPaintEvent
from PySide6.QtWidgets import QWidget

MAX_PROMPTS = 40
"""The chart shows the most recent prompts only."""
Point = tuple[float | None, ...]
"""A prompt's median milliseconds, one per series (None for a model that did not run)."""


class LatencyChart(QWidget):
    """A group of bars per prompt, one bar per series that ran, newest on the right; the legend names the
    series shown."""

    def __init__(self, series: Sequence[tuple[str, QColor]], parent: QWidget | None = None) -> None:
        super().__init__(parent)
        self._series = list(series)
        self._points: list[Point] = []
        self.setMinimumSize(220, 110)
        self.setToolTip("Median latency per prompt: FP32 in blue, INT8 in orange (darker on ONNX Runtime)")

    @property
    def points(self) -> list[Point]:
        return list(self._points)

    def set_points(self, points: Sequence[Point]) -> None:
        """One point per prompt, oldest first."""
        self._points = list(points)[-MAX_PROMPTS:]
        self.update()

    def sizeHint(self) -> QSize:
        return QSize(320, 180)

    def _shown(self) -> list[int]:
        """The series with at least one value."""
        return [j for j in range(len(self._series)) if any(point[j] is not None for point in self._points)]

    def _legend(self, p: QPainter, shown: list[int]) -> float:
        """Draw the legend, wrapped to the width; the height it takes."""
        metrics, x, y, line = p.fontMetrics(), 4.0, 0.0, 18.0
        for j in shown:
            name, color = self._series[j]
            width = 14 + metrics.horizontalAdvance(name) + 12
            if x > 4 and x + width > self.width():
                x, y = 4.0, y + line
            p.fillRect(QRectF(x, y + 4, 10, 10), color)
            p.drawText(QRectF(x + 14, y, width - 14, line), Qt.AlignmentFlag.AlignVCenter, name)
            x += width
        return y + line

    def paintEvent(self, event: QPaintEvent) -> None:
        p = QPainter(self)
        p.setPen(self.palette().windowText().color())
        shown = self._shown()
        if not shown:
            p.drawText(self.rect(), Qt.AlignmentFlag.AlignCenter, "Latency per prompt appears here")
            p.end()
            return
        top_margin = self._legend(p, shown) + 4
        plot = QRectF(44, top_margin, max(self.width() - 54, 10), max(self.height() - top_margin - 18, 10))
        top = max(value for point in self._points for value in point if value is not None) or 1.0
        p.drawText(QRectF(0, plot.top() - 6, 40, 14), Qt.AlignmentFlag.AlignRight, f"{top:.1f}")
        p.drawText(QRectF(0, plot.bottom() - 8, 40, 14), Qt.AlignmentFlag.AlignRight, "0 ms")
        p.drawLine(plot.bottomLeft(), plot.bottomRight())
        group = plot.width() / len(self._points)
        bar = max(group * 0.8 / len(shown), 1.0)
        for i, point in enumerate(self._points):
            for k, j in enumerate(shown):
                value = point[j]
                if value is not None:
                    h = plot.height() * value / top
                    x = plot.left() + i * group + group * 0.1 + k * bar
                    p.fillRect(QRectF(x, plot.bottom() - h, bar, h), self._series[j][1])
        p.end()
