"""Every prompt run as a table row: a ``QAbstractTableModel`` over ``core.results.ComparisonRow``, each with the
id the history database gave it (None for a row kept in memory only)."""

from __future__ import annotations

from collections.abc import Callable, Iterable, Sequence
from typing import TYPE_CHECKING, Any

from PySide6.QtCore import QAbstractTableModel, QModelIndex, QPersistentModelIndex, Qt

from gpt2q_desktop.core.runtimes import runtime_label
from gpt2q_desktop.core.text import visible_token

from ..display import prob_text

if TYPE_CHECKING:
    from gpt2q_desktop.core.results import ComparisonRow

SORT_ROLE = Qt.ItemDataRole.UserRole + 1
"""Raw values (numbers, booleans) for sorting."""
CHECKPOINT_ROLE = Qt.ItemDataRole.UserRole + 2
"""The row's checkpoint name, in every column (the view filters on it)."""

MAX_REMOVALS = 20
"""More runs of adjacent rows than this to remove: the model is reset instead."""

Index = QModelIndex | QPersistentModelIndex


def _prompt(row: ComparisonRow) -> str:
    return row.prompt.replace("\n", "↵")


_COLUMNS: tuple[tuple[str, Callable[[ComparisonRow], Any], Callable[[Any], str]], ...] = (
    ("Prompt", _prompt, str),
    ("Checkpoint", lambda r: r.checkpoint, str),
    ("Runtime", lambda r: runtime_label(r.runtime, r.kernels), str),
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
    ("Timing", lambda r: r.noisy, lambda v: "noisy" if v else "clean"),
)
HEADERS = tuple(c[0] for c in _COLUMNS)
_LEFT = tuple(HEADERS.index(n) for n in ("Prompt", "Checkpoint", "Runtime", "FP32 token", "INT8 token", "Timing"))
"""The columns of text (the others, numbers, are aligned right)."""
_CHECKPOINT, _TIMING = HEADERS.index("Checkpoint"), HEADERS.index("Timing")


class HistoryModel(QAbstractTableModel):
    """Rows in the order they were run; a proxy sorts and filters them for the view."""

    def __init__(self, parent: Any = None) -> None:
        super().__init__(parent)
        self._rows: list[ComparisonRow] = []
        self._ids: list[int | None] = []

    @property
    def rows(self) -> list[ComparisonRow]:
        return list(self._rows)

    def rows_of(self, checkpoint: str | None) -> list[ComparisonRow]:
        """The rows of *checkpoint* (None: all), in the order they were run."""
        return [r for r in self._rows if checkpoint is None or r.checkpoint == checkpoint]

    def source_rows_of(self, checkpoint: str | None) -> list[int]:
        """The model rows of *checkpoint* (None: all)."""
        return [i for i, r in enumerate(self._rows) if checkpoint is None or r.checkpoint == checkpoint]

    def checkpoints(self) -> list[str]:
        """The checkpoint names that have rows, alphabetically."""
        return sorted({r.checkpoint for r in self._rows})

    def ids(self, rows: Iterable[int]) -> list[int]:
        """The database ids of the given model rows (rows kept in memory only have none)."""
        return [i for i in (self._ids[r] for r in sorted(set(rows))) if i is not None]

    def append(self, row: ComparisonRow, row_id: int | None = None) -> None:
        n = len(self._rows)
        self.beginInsertRows(QModelIndex(), n, n)
        self._rows.append(row)
        self._ids.append(row_id)
        self.endInsertRows()

    def set_rows(self, stored: Sequence[tuple[int | None, ComparisonRow]]) -> None:
        """Replace every row with *stored* ``(id, row)`` pairs."""
        self.beginResetModel()
        self._ids = [i for i, _ in stored]
        self._rows = [r for _, r in stored]
        self.endResetModel()

    def remove(self, rows: Iterable[int]) -> None:
        """Remove the given model rows: each run of adjacent rows at once, last first (the view keeps its place),
        or, when they are scattered, in one reset (the view's sorting proxy would be updated run by run)."""
        gone = set(rows)
        runs = _runs(sorted(gone))
        if len(runs) > MAX_REMOVALS:
            kept = [i for i in range(len(self._rows)) if i not in gone]
            self.set_rows([(self._ids[i], self._rows[i]) for i in kept])
            return
        for first, last in reversed(runs):
            self.beginRemoveRows(QModelIndex(), first, last)
            del self._rows[first : last + 1], self._ids[first : last + 1]
            self.endRemoveRows()

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
        if role == CHECKPOINT_ROLE:
            return row.checkpoint
        if role == Qt.ItemDataRole.ToolTipRole and index.column() == 0:
            return row.prompt
        if role == Qt.ItemDataRole.ToolTipRole and index.column() == _CHECKPOINT:
            return f"{row.checkpoint}: {row.recipe}" if row.recipe else row.checkpoint
        if role == Qt.ItemDataRole.ToolTipRole and index.column() == _TIMING:
            return row.noise_text() or "clean: steady samples, no other program busy"
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


def _runs(rows: Sequence[int]) -> list[tuple[int, int]]:
    """Sorted row numbers as ``(first, last)`` runs of adjacent rows."""
    runs: list[tuple[int, int]] = []
    for r in rows:
        if runs and runs[-1][1] == r - 1:
            runs[-1] = (runs[-1][0], r)
        else:
            runs.append((r, r))
    return runs
