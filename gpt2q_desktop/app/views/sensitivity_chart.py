"""The per-layer sensitivity ranking as horizontal bars (KL each part adds alone), drawn with QPainter."""

from __future__ import annotations

from PySide6.QtCore import QRectF, QSize, Qt
from PySide6.QtGui import QColor, QPainter, QPaintEvent
from PySide6.QtWidgets import QSizePolicy, QWidget

EMPTY = "The sensitivity ranking appears here"
MEASURING_SENSITIVITY = "Ranking the parts…"
MIN_BAR = 60
"""The bars' track is never narrower than this many pixels."""


class SensitivityChart(QWidget):
    """One bar per part, in the order given (most sensitive first), its name whole on the left and its KL in nats
    on the right; lengths relative to the largest KL."""

    ROW = 22

    def __init__(self, color: QColor, parent: QWidget | None = None) -> None:
        super().__init__(parent)
        self._color = color
        self._rows: list[tuple[str, float]] = []
        self._note = EMPTY
        self.setSizePolicy(QSizePolicy.Policy.Expanding, QSizePolicy.Policy.Fixed)
        self.setToolTip("Mean KL(FP32‖INT8) in nats when only this part is INT8; longest bar = most sensitive")
        self._fit()

    @property
    def rows(self) -> list[tuple[str, float]]:
        return list(self._rows)

    @property
    def note(self) -> str:
        """What the chart says while it has no rows."""
        return self._note

    def set_rows(self, rows: list[tuple[str, float]]) -> None:
        """``(label, kl_mean)`` per part, most sensitive first."""
        self._rows = list(rows)
        self._note = EMPTY
        self._fit()

    def clear(self, note: str = EMPTY) -> None:
        """No rows; *note* says why."""
        self._rows = []
        self._note = note
        self._fit()

    def _fit(self) -> None:
        self.setFixedHeight(self.ROW * max(3, len(self._rows)))
        self.updateGeometry()
        self.update()

    def columns(self) -> tuple[float, float]:
        """The widths of the name column (the longest name, whole) and of the KL column, in pixels."""
        metrics = self.fontMetrics()
        widest = max((metrics.horizontalAdvance(label) for label, _ in self._rows), default=0)
        return float(widest + 12), float(metrics.horizontalAdvance("8.88e-88") + 10)

    def minimumSizeHint(self) -> QSize:
        label_w, value_w = self.columns()
        return QSize(int(label_w + value_w) + MIN_BAR, self.ROW * max(3, len(self._rows)))

    def sizeHint(self) -> QSize:
        return self.minimumSizeHint().expandedTo(QSize(320, 0))

    def paintEvent(self, event: QPaintEvent) -> None:
        p = QPainter(self)
        p.setPen(self.palette().windowText().color())
        if not self._rows:
            p.drawText(self.rect(), Qt.AlignmentFlag.AlignCenter, self._note)
            p.end()
            return
        label_w, value_w = self.columns()
        bar_w = max(self.width() - label_w - value_w, 10.0)
        scale = max((kl for _, kl in self._rows), default=0.0) or 1.0
        right = Qt.AlignmentFlag.AlignRight | Qt.AlignmentFlag.AlignVCenter
        for i, (label, kl) in enumerate(self._rows):
            y = i * self.ROW
            p.drawText(QRectF(0, y, label_w - 6, self.ROW), right, label)
            p.fillRect(QRectF(label_w, y + 4, bar_w, self.ROW - 8), self.palette().alternateBase())
            p.fillRect(QRectF(label_w, y + 4, bar_w * max(0.0, min(kl / scale, 1.0)), self.ROW - 8), self._color)
            p.drawText(
                QRectF(label_w + bar_w + 4, y, value_w - 4, self.ROW), Qt.AlignmentFlag.AlignVCenter, f"{kl:.2e}"
            )
        p.end()
