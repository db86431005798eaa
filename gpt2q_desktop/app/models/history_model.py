"""Every prompt run as a table row: a ``QAbstractTableModel`` over ``core.compare.ComparisonRow``."""

from __future__ import annotations

from collections.abc import Callable, Iterable
from typing import TYPE_CHECKING, Any

from PySide6.QtCore import QAbstractTableModel, QModelIndex, QPersistentModelIndex, Qt

from ...core.options import RUNTIME_NAMES
from ...core.text import visible_token
from ..display import prob_text

if TYPE_CHECKING:
    from ...core.compare import ComparisonRow

SORT_ROLE = Qt.ItemDataRole.UserRole + 1
"""Raw values (numbers, booleans) for sorting."""

Index = QModelIndex | QPersistentModelIndex


def _prompt(row: ComparisonRow) -> str:
    return row.prompt.replace("\n", "↵")


_COLUMNS: tuple[tuple[str, Callable[[ComparisonRow], Any], Callable[[Any], str]], ...] = (
    ("Prompt", _prompt, str),
    ("Runtime", lambda r: r.runtime, lambda v: RUNTIME_NAMES.get(v, v)),
    ("FP32 token", lambda r: r.fp32.token, visible_token),
    ("FP32 id", lambda r: r.fp32.token_id, str),
    ("FP32 p", lambda r: r.fp32.prob, prob_text),
    ("FP32 ms", lambda r: r.fp32.timing.median_ms, lambda v: f"{v:.2f}"),
    ("INT8 token", lambda r: r.int8.token, visible_token),
    ("INT8 id", lambda r: r.int8.token_id, str),
    ("INT8 p", lambda r: r.int8.prob, prob_text),
    ("INT8 ms", lambda r: r.int8.timing.median_ms, lambda v: f"{v:.2f}"),
    ("Agree", lambda r: r.agree, lambda v: "yes" if v else "no"),
    ("KL", lambda r: r.kl, lambda v: f"{v:.2e}"),
    ("Speedup", lambda r: r.speedup, lambda v: f"{v:.2f}×"),
)
HEADERS = tuple(c[0] for c in _COLUMNS)
_LEFT = tuple(HEADERS.index(name) for name in ("Prompt", "Runtime", "FP32 token", "INT8 token"))
"""The columns of text (the others, numbers, are aligned right)."""


class HistoryModel(QAbstractTableModel):
    """Rows in the order they were run; a proxy sorts them for the view."""

    def __init__(self, parent: Any = None) -> None:
        super().__init__(parent)
        self._rows: list[ComparisonRow] = []

    @property
    def rows(self) -> list[ComparisonRow]:
        return list(self._rows)

    def append(self, row: ComparisonRow) -> None:
        n = len(self._rows)
        self.beginInsertRows(QModelIndex(), n, n)
        self._rows.append(row)
        self.endInsertRows()

    def clear(self) -> None:
        self.beginResetModel()
        self._rows.clear()
        self.endResetModel()

    def rowCount(self, parent: Index = QModelIndex()) -> int:
        return 0 if parent.isValid() else len(self._rows)

    def columnCount(self, parent: Index = QModelIndex()) -> int:
        return 0 if parent.isValid() else len(_COLUMNS)

    def data(self, index: Index, role: int = Qt.ItemDataRole.DisplayRole) -> Any:
        if not index.isValid():
            return None
        row = self._rows[index.row()]
        _, get, show = _COLUMNS[index.column()]
        if role == Qt.ItemDataRole.DisplayRole:
            return show(get(row))
        if role == SORT_ROLE:
            return get(row)
        if role == Qt.ItemDataRole.ToolTipRole and index.column() == 0:
            return row.prompt
        if role == Qt.ItemDataRole.TextAlignmentRole and index.column() not in _LEFT:
            return int(Qt.AlignmentFlag.AlignRight | Qt.AlignmentFlag.AlignVCenter)
        return None

    def headerData(self, section: int, orientation: Qt.Orientation, role: int = Qt.ItemDataRole.DisplayRole) -> Any:
        if role == Qt.ItemDataRole.DisplayRole and orientation == Qt.Orientation.Horizontal:
            return HEADERS[section]
        if role == Qt.ItemDataRole.DisplayRole:
            return str(section + 1)
        return None

    def tsv(self, rows: Iterable[int]) -> str:
        """The given source rows as tab-separated text, with a header line."""
        lines = ["\t".join(HEADERS)]
        for r in sorted(set(rows)):
            cells = [self.data(self.index(r, c)) for c in range(len(_COLUMNS))]
            lines.append("\t".join(str(c).replace("\t", " ") for c in cells))
        return "\n".join(lines) + "\n"
