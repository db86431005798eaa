"""The window's side of the history database: every failure is said once, then the rows stay in memory only."""

from __future__ import annotations

import logging
from collections.abc import Sequence
from typing import TYPE_CHECKING

from gpt2q_desktop.core.logs import LOGGER
from gpt2q_desktop.core.store.history import HistoryError, HistoryStore

if TYPE_CHECKING:
    from gpt2q_desktop.core.results import ComparisonRow

log = logging.getLogger(LOGGER)
MEMORY_ONLY = "Until the window closes, the history is kept in memory only."


class StoredHistory:
    """Opens ``core.history_db.HistoryStore`` once; after it fails (on opening or later) every call is a no-op.

    What the user should be told (a database set aside, a failure) waits in :meth:`take_messages`.
    """

    def __init__(self) -> None:
        self._messages: list[str] = []
        self._store: HistoryStore | None = None
        try:
            self._store = HistoryStore()
        except HistoryError as exc:
            self._fail(exc)
        else:
            self._messages.extend(self._store.notes)

    def take_messages(self) -> list[str]:
        """The messages not yet shown (each is handed out once)."""
        messages, self._messages = self._messages, []
        return messages

    def load(self) -> list[tuple[int | None, ComparisonRow]] | None:
        """Every stored row as ``(id, row)``, oldest first; None without a database."""
        if self._store is None:
            return None
        try:
            return [(stored.id, stored.row) for stored in self._store.load()]
        except HistoryError as exc:
            self._fail(exc)
            return None

    def add(self, row: ComparisonRow) -> int | None:
        """Store *row*; its id (None if it is kept in memory only)."""
        if self._store is None:
            return None
        try:
            return self._store.add([row])[0]
        except HistoryError as exc:
            self._fail(exc)
            return None

    def delete(self, ids: Sequence[int]) -> None:
        if self._store is not None and ids:
            try:
                self._store.delete(ids)
            except HistoryError as exc:
                self._fail(exc)

    def close(self) -> None:
        """Close the database (rows added later stay in memory, silently)."""
        if self._store is not None:
            self._store.close()
            self._store = None

    def _fail(self, exc: HistoryError) -> None:
        log.warning("history database not used from now on: %s", exc)
        self._messages.append(f"{exc} {MEMORY_ONLY}")
        self.close()
