"""A bar chart of per-token KL(FP32‖INT8) counts over logarithmic bins, drawn with QPainter (no QtCharts)."""

from __future__ import annotations

import itertools

from PySide6.QtCore import QRectF, QSize, Qt
from PySide6.QtGui import QColor, QPainter, QPaintEvent
from PySide6.QtWidgets import QWidget

EMPTY = "The KL histogram appears here"
EVALUATING = "Evaluating the text…"
X_TITLE = "KL(FP32‖INT8) per token, nats"


def _edge(value: float) -> str:
    """A bin edge in short scientific notation: ``1e-7``, ``1e0``, ``1e1``."""
    mantissa, exponent = f"{value:.0e}".split("e")
    return f"{mantissa}e{int(exponent)}"


def bin_labels(edges: list[float]) -> list[str]:
    """One label per bin of a histogram with these edges: below the first, between two, from the last up."""
    if not edges:
        return ["all"]
    inner = [f"{_edge(lo)}–{_edge(hi)}" for lo, hi in itertools.pairwise(edges)]
    return [f"<{_edge(edges[0])}", *inner, f"≥{_edge(edges[-1])}"]


class KlHistogram(QWidget):
    """Vertical bars, one per KL bin (nats), with the token count above each bar; the axes named."""

    def __init__(self, color: QColor, parent: QWidget | None = None) -> None:
        super().__init__(parent)
        self._color = color
        self._bars: list[tuple[str, int]] = []
        self._note = EMPTY
        self.setMinimumSize(260, 170)
        self.setToolTip("Tokens per KL(FP32‖INT8) range, in nats")

    @property
    def bars(self) -> list[tuple[str, int]]:
        return list(self._bars)

    def set_histogram(self, counts: list[int], edges: list[float]) -> None:
        """*counts* has one entry more than *edges* (``CorpusEval.kl_histogram`` and ``kl_bins``)."""
        self._bars = list(zip(bin_labels(edges), counts, strict=True))
        self._note = EMPTY
        self.update()

    def clear(self, note: str = EMPTY) -> None:
        """No bars; *note* says why."""
        self._bars = []
        self._note = note
        self.update()

    @property
    def note(self) -> str:
        """What the chart says while it has no bars."""
        return self._note

    def sizeHint(self) -> QSize:
        return QSize(360, 200)

    def paintEvent(self, event: QPaintEvent) -> None:
        p = QPainter(self)
        p.setPen(self.palette().windowText().color())
        if not self._bars:
            p.drawText(self.rect(), Qt.AlignmentFlag.AlignCenter, self._note)
            p.end()
            return
        font = p.font()
        if font.pointSizeF() > 0:
            font.setPointSizeF(font.pointSizeF() * 0.8)
        else:  # a font sized in pixels
            font.setPixelSize(max(6, round(font.pixelSize() * 0.8)))
        p.setFont(font)
        line = p.fontMetrics().height()
        plot = QRectF(44, 2 * line + 4, max(self.width() - 52, 10), max(self.height() - 2 * line - 50 - line, 10))
        p.drawText(QRectF(0, 0, self.width(), line), Qt.AlignmentFlag.AlignLeft, "Tokens")
        bottom = QRectF(0, self.height() - line, self.width(), line)
        p.drawText(bottom, Qt.AlignmentFlag.AlignHCenter, X_TITLE)
        top = max(count for _, count in self._bars) or 1
        group = plot.width() / len(self._bars)
        p.drawLine(plot.bottomLeft(), plot.bottomRight())
        for i, (label, count) in enumerate(self._bars):
            x = plot.left() + i * group
            h = plot.height() * count / top
            p.fillRect(QRectF(x + group * 0.15, plot.bottom() - h, group * 0.7, h), self._color)
            p.drawText(QRectF(x, plot.bottom() - h - 14, group, 14), Qt.AlignmentFlag.AlignCenter, f"{count:,}")
            p.save()
            p.translate(x + group / 2 + 4, plot.bottom() + 4)
            p.rotate(-35)
            p.drawText(QRectF(-60, 0, 60, 14), Qt.AlignmentFlag.AlignRight | Qt.AlignmentFlag.AlignVCenter, label)
            p.restore()
        p.end()
