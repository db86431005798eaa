"""The cache's entries as a table: ``QAbstractTableModel`` over ``core.cache.CacheEntry``."""

from __future__ import annotations

import time
from typing import Any

from PySide6.QtCore import QAbstractTableModel, QModelIndex, QPersistentModelIndex, Qt

from ...core.cache import CacheEntry
from ...core.sizes import mb

Index = QModelIndex | QPersistentModelIndex
HEADERS = ("Source", "Options", "On disk", "Created", "Source folder", "Key")


def _options(entry: CacheEntry) -> str:
    from ...core.options import RecipeOptions

    opts = entry.manifest.get("options")
    return RecipeOptions.from_dict(opts).describe() if isinstance(opts, dict) else "?"


class CacheModel(QAbstractTableModel):
    """A snapshot of the cache entries; call :meth:`set_entries` to refresh."""

    def __init__(self, parent: Any = None) -> None:
        super().__init__(parent)
        self._entries: list[CacheEntry] = []
        self._sizes: list[int] = []

    def set_entries(self, entries: list[CacheEntry]) -> None:
        self.beginResetModel()
        self._entries = list(entries)
        self._sizes = [e.bytes for e in self._entries]
        self.endResetModel()

    def entry(self, row: int) -> CacheEntry:
        return self._entries[row]

    def total_bytes(self) -> int:
        return sum(self._sizes)

    def rowCount(self, parent: Index = QModelIndex()) -> int:
        return 0 if parent.isValid() else len(self._entries)

    def columnCount(self, parent: Index = QModelIndex()) -> int:
        return 0 if parent.isValid() else len(HEADERS)

    def data(self, index: Index, role: int = Qt.ItemDataRole.DisplayRole) -> Any:
        if not index.isValid() or role not in (Qt.ItemDataRole.DisplayRole, Qt.ItemDataRole.ToolTipRole):
            return None
        e, col = self._entries[index.row()], index.column()
        if col == 0:
            return e.source_name
        if col == 1:
            return _options(e)
        if col == 2:
            return mb(self._sizes[index.row()])
        if col == 3:
            return time.strftime("%Y-%m-%d %H:%M", time.localtime(e.created)) if e.created else "?"
        if col == 4:
            return e.source_path
        return e.key

    def headerData(self, section: int, orientation: Qt.Orientation, role: int = Qt.ItemDataRole.DisplayRole) -> Any:
        if role == Qt.ItemDataRole.DisplayRole and orientation == Qt.Orientation.Horizontal:
            return HEADERS[section]
        return None
