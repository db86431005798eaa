"""The window's side of the history database. The GUI thread never waits for it more than :data:`GUI_WAIT_S`:
while another program holds its lock, rows (and deletions) wait in memory and :meth:`StoredHistory.retry` writes
them once it is free. Any other failure is said once, then the rows stay in memory only."""

from __future__ import annotations

import logging
from collections.abc import Sequence
from typing import TYPE_CHECKING

from gpt2q_desktop.core.logs import LOGGER
from gpt2q_desktop.core.store.history import HistoryBusy, HistoryError, HistoryStore

if TYPE_CHECKING:
    from gpt2q_desktop.core.results import ComparisonRow

log = logging.getLogger(LOGGER)
MEMORY_ONLY = "Until the window closes, the history is kept in memory only."
GUI_WAIT_S = 0.05
"""The longest the GUI thread waits for a lock another program holds (the event loop must not stall)."""
CLOSE_WAIT_S = 2.0
"""On closing, rows still waiting get this long for the lock."""


class StoredHistory:
    """Opens ``core.store.history.HistoryStore``; after a failure other than a lock (on opening or later) every
    call is a no-op.

    What the user should be told (a database set aside, a failure) waits in :meth:`take_messages`; whether rows
    wait for a locked database is :attr:`waiting`.
    """

    def __init__(self) -> None:
        self._messages: list[str] = []
        self._store: HistoryStore | None = None
        self._unsaved: list[ComparisonRow] = []
        """Rows to write once the lock is free, oldest first."""
        self._undeleted: list[int] = []
        """Ids to delete once the lock is free."""
        self.waiting = False
        """Another program holds the database: rows are kept in memory until :meth:`retry` writes them."""
        self._open()

    def _open(self) -> bool:
        try:
            self._store = HistoryStore(wait_s=GUI_WAIT_S)
        except HistoryBusy as exc:
            self._wait(exc)
            return False
        except HistoryError as exc:
            self._fail(exc)
            return False
        self._messages.extend(self._store.notes)
        return True

    def take_messages(self) -> list[str]:
        """The messages not yet shown (each is handed out once)."""
        messages, self._messages = self._messages, []
        return messages

    def load(self) -> list[tuple[int | None, ComparisonRow]] | None:
        """Every stored row as ``(id, row)``, oldest first; None without a database, or while rows wait for it
        (the rows in memory are the newer)."""
        if self._store is None or self.waiting:
            return None
        try:
            return [(stored.id, stored.row) for stored in self._store.load()]
        except HistoryBusy as exc:
            self._wait(exc)
        except HistoryError as exc:
            self._fail(exc)
        return None

    def add(self, row: ComparisonRow) -> int | None:
        """Store *row*; its id (None if it is kept in memory, for now or for good)."""
        if self.waiting:
            self._unsaved.append(row)
        elif self._store is not None:
            try:
                return self._store.add([row])[0]
            except HistoryBusy as exc:
                self._unsaved.append(row)
                self._wait(exc)
            except HistoryError as exc:
                self._fail(exc)
        return None

    def delete(self, ids: Sequence[int], unsaved: Sequence[ComparisonRow] = ()) -> None:
        """Delete the rows *ids* from the database, and the rows *unsaved* (rows without an id) from those that
        wait to be written."""
        self._unsaved = [row for row in self._unsaved if not any(row is gone for gone in unsaved)]
        if self.waiting:
            self._undeleted.extend(ids)
        elif self._store is not None and ids:
            try:
                self._store.delete(ids)
            except HistoryBusy as exc:
                self._undeleted.extend(ids)
                self._wait(exc)
            except HistoryError as exc:
                self._fail(exc)

    def retry(self) -> int | None:
        """While :attr:`waiting`: try the database again; the number of rows written if it is free now (the
        caller reads the rows back, with their ids), else None."""
        if not self.waiting or (self._store is None and not self._open()):
            return None
        try:
            self._flush()
        except HistoryBusy:
            return None
        except HistoryError as exc:
            self._fail(exc)
            return None
        written, self._unsaved, self.waiting = len(self._unsaved), [], False
        log.info("history database free again: %d rows that waited written", written)
        return written

    def _flush(self) -> None:
        assert self._store is not None
        if self._undeleted:
            self._store.delete(self._undeleted)
            self._undeleted = []
        if self._unsaved:
            self._store.add(self._unsaved)

    def close(self) -> None:
        """Write what waits (for up to :data:`CLOSE_WAIT_S`), close the database (rows added later stay in
        memory, silently)."""
        if self.waiting and (self._unsaved or self._undeleted):
            try:
                if self._store is None:
                    self._store = HistoryStore(wait_s=CLOSE_WAIT_S)
                self._store.set_wait(CLOSE_WAIT_S)
                self._flush()
            except HistoryError as exc:
                log.warning("%d history rows were not saved: %s", len(self._unsaved), exc)
        self.waiting = False
        if self._store is not None:
            self._store.close()
            self._store = None

    def _wait(self, exc: HistoryBusy) -> None:
        if not self.waiting:
            log.warning("history database locked by another program; rows wait in memory until it is free: %s", exc)
        self.waiting = True

    def _fail(self, exc: HistoryError) -> None:
        log.warning("history database not used from now on: %s", exc)
        self._messages.append(f"{exc} {MEMORY_ONLY}")
        self._unsaved, self._undeleted = [], []
        self.close()
