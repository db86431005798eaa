"""A small bar chart of the median latency of every model per prompt, drawn with QPainter (no QtCharts)."""

from __future__ import annotations

import math
from collections.abc import Sequence

from PySide6.QtCore import QEvent, QPointF, QRectF, QSize, Qt
from PySide6.QtGui import QColor, QHelpEvent, QPainter, QPaintEvent
from PySide6.QtWidgets import QToolTip, QWidget

MAX_PROMPTS = 40
"""The chart shows the most recent prompts only."""
Point = tuple[float | None, ...]
"""A prompt's median milliseconds, one per series (None for a model that did not run)."""
TIP = "Median latency per prompt, in milliseconds: FP32 in blue, INT8 in orange (darker on ONNX Runtime)"
TICKS = 4
"""At most about this many steps on the time axis (fewer when it is short)."""
PROMPT_CHARS = 16
"""A prompt's label under its bars is at most this many characters (the tooltip has it whole)."""


def nice_step(top: float, ticks: int = TICKS) -> float:
    """A round step (1, 2 or 5 times a power of ten) that divides 0..*top* into about *ticks* parts."""
    raw = max(top, 1e-9) / ticks
    power = 10 ** math.floor(math.log10(raw))
    return next(m * power for m in (1, 2, 5, 10) if m * power >= raw)


def tick_text(value: float, step: float) -> str:
    decimals = max(0, -math.floor(math.log10(step))) if step < 1 else 0
    return f"{value:.{decimals}f}"


class LatencyChart(QWidget):
    """A group of bars per prompt, one bar per series that ran, newest on the right; a time axis in ms, the
    prompts under their bars (numbered when there is no room), each group's figures in its tooltip."""

    def __init__(self, series: Sequence[tuple[str, QColor]], parent: QWidget | None = None) -> None:
        super().__init__(parent)
        self._series = list(series)
        self._points: list[Point] = []
        self._prompts: list[str] = []
        self.setMinimumSize(220, 100)
        self.setToolTip(TIP)

    @property
    def points(self) -> list[Point]:
        return list(self._points)

    @property
    def prompts(self) -> list[str]:
        return list(self._prompts)

    def set_points(self, points: Sequence[Point], prompts: Sequence[str] = ()) -> None:
        """One point per prompt, oldest first, and the prompts they are of."""
        self._points = list(points)[-MAX_PROMPTS:]
        self._prompts = list(prompts)[-MAX_PROMPTS:]
        self.update()

    def sizeHint(self) -> QSize:
        return QSize(320, 180)

    def _shown(self) -> list[int]:
        """The series with at least one value."""
        return [j for j in range(len(self._series)) if any(point[j] is not None for point in self._points)]

    def _legend_height(self, shown: list[int], paint: QPainter | None = None) -> float:
        """The legend's height, wrapped to the width (drawn with *paint*)."""
        metrics, x, y, line = self.fontMetrics(), 4.0, 0.0, float(self.fontMetrics().height() + 4)
        for j in shown:
            name, color = self._series[j]
            width = 14 + metrics.horizontalAdvance(name) + 12
            if x > 4 and x + width > self.width():
                x, y = 4.0, y + line
            if paint is not None:
                paint.fillRect(QRectF(x, y + (line - 10) / 2, 10, 10), color)
                paint.drawText(QRectF(x + 14, y, width - 14, line), Qt.AlignmentFlag.AlignVCenter, name)
            x += width
        return y + line

    def _plot(self) -> QRectF:
        """Where the bars go: under the legend, right of the tick labels, above the prompts."""
        metrics = self.fontMetrics()
        top = self._legend_height(self._shown()) + metrics.height() / 2 + 2
        left = metrics.horizontalAdvance("0000 ms") + 8
        bottom = metrics.height() + 6
        return QRectF(left, top, max(self.width() - left - 6, 10), max(self.height() - top - bottom, 10))

    def _group(self, plot: QRectF) -> float:
        return plot.width() / max(len(self._points), 1)

    def _label(self, i: int, room: float) -> str:
        """The label under group *i*: its prompt, shortened to *room* pixels, or its number when that leaves
        too little."""
        prompt = self._prompts[i].replace("\n", "↵") if i < len(self._prompts) else ""
        metrics = self.fontMetrics()
        short = prompt[:PROMPT_CHARS] + ("…" if len(prompt) > PROMPT_CHARS else "")
        shown = metrics.elidedText(short, Qt.TextElideMode.ElideRight, int(room))
        return shown if prompt and len(shown) >= min(4, len(prompt)) else str(i + 1)

    def _draw_axis(self, p: QPainter, plot: QRectF) -> float:
        """Grid lines at round steps, labelled in ms (fewer when the plot is short); the value at the plot's top."""
        metrics = p.fontMetrics()
        highest = max(value for point in self._points for value in point if value is not None) or 1.0
        step = nice_step(highest, max(1, min(TICKS, int(plot.height() / (metrics.height() * 1.5)))))
        top = step * math.ceil(highest / step)
        right = Qt.AlignmentFlag.AlignRight | Qt.AlignmentFlag.AlignVCenter
        for k in range(round(top / step) + 1):
            y = plot.bottom() - plot.height() * k * step / top
            p.setPen(self.palette().mid().color())
            p.drawLine(QPointF(plot.left(), y), QPointF(plot.right(), y))
            p.setPen(self.palette().windowText().color())
            tick = QRectF(0, y - metrics.height() / 2, plot.left() - 4, metrics.height())
            p.drawText(tick, right, f"{tick_text(k * step, step)} ms")
        return top

    def paintEvent(self, event: QPaintEvent) -> None:
        p = QPainter(self)
        p.setPen(self.palette().windowText().color())
        shown = self._shown()
        if not shown:
            p.drawText(self.rect(), Qt.AlignmentFlag.AlignCenter, "Latency per prompt appears here")
            p.end()
            return
        self._legend_height(shown, p)
        plot = self._plot()
        top = self._draw_axis(p, plot)
        group = self._group(plot)
        bar = max(group * 0.8 / len(shown), 1.0)
        under = Qt.AlignmentFlag.AlignHCenter | Qt.AlignmentFlag.AlignTop
        for i, point in enumerate(self._points):
            for k, j in enumerate(shown):
                value = point[j]
                if value is not None:
                    h = plot.height() * value / top
                    x = plot.left() + i * group + group * 0.1 + k * bar
                    p.fillRect(QRectF(x, plot.bottom() - h, bar, h), self._series[j][1])
            label = QRectF(plot.left() + i * group, plot.bottom() + 2, group, p.fontMetrics().height() + 4)
            p.drawText(label, under, self._label(i, group - 4))
        p.end()

    def tip_at(self, x: float) -> str:
        """The tooltip at *x*: the prompt of the bars there and every model's median, or the chart's own."""
        plot = self._plot()
        i = math.floor((x - plot.left()) / self._group(plot))
        if not self._points or not 0 <= i < len(self._points) or x < plot.left():
            return TIP
        lines = [self._prompts[i][:200] if i < len(self._prompts) else f"Prompt {i + 1}"]
        for (name, _), value in zip(self._series, self._points[i]):
            if value is not None:
                lines.append(f"{name}: {value:.2f} ms")
        return "\n".join(lines)

    def event(self, event: QEvent) -> bool:
        if event.type() == QEvent.Type.ToolTip and isinstance(event, QHelpEvent):
            QToolTip.showText(event.globalPos(), self.tip_at(event.pos().x()), self)
            return True
        return super().event(event)
