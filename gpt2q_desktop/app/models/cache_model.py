"""The cache's entries as a table: ``QAbstractTableModel`` over ``core.store.manifest.CacheEntry``."""

from __future__ import annotations

import time
from typing import Any

from PySide6.QtCore import QAbstractTableModel, QModelIndex, QPersistentModelIndex, Qt

from gpt2q_desktop.core.runtimes import runtime_label
from gpt2q_desktop.core.sizes import mb
from gpt2q_desktop.core.store.manifest import CacheEntry

Index = QModelIndex | QPersistentModelIndex
HEADERS = ("Source", "Runtime", "Holds", "On disk", "Created", "Source folder", "Key")


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
            return "?" if e.problem else runtime_label(e.runtime, e.kernels)
        if col == 2:
            return f"unusable: {e.problem}" if e.problem else e.contents()
        if col == 3:
            return mb(self._sizes[index.row()])
        if col == 4:
            return time.strftime("%Y-%m-%d %H:%M", time.localtime(e.created)) if e.created else "?"
        if col == 5:
            return e.source_path
        return e.key

    def headerData(self, section: int, orientation: Qt.Orientation, role: int = Qt.ItemDataRole.DisplayRole) -> Any:
        if role == Qt.ItemDataRole.DisplayRole and orientation == Qt.Orientation.Horizontal:
            return HEADERS[section]
        return None
