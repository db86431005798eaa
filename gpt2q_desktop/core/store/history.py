"""The comparison history that outlives the window: every row in a SQLite database in the user data dir.

Standard library ``sqlite3`` in WAL mode with a busy timeout, so two windows (or a window and the CLI) add rows
at the same time without losing any. Each row is stored whole (its JSON, prompt never cut) beside the columns it
is filtered by. The schema has a version (``PRAGMA user_version``) and a migration per step. A database that is
not one (corrupt, truncated, another file) is set aside, renamed with a time stamp, never deleted, and a fresh
one is started; a locked or newer one is reported and left alone, and the caller goes on without persistence.
Each side's top tokens are kept as far as the window shows them (:data:`~gpt2q_desktop.core.options.TOP_K_SHOWN`;
``gpt2q compare --top-k 100000`` stores no megabytes), and a row stored longer before is cut when read.
Another program holding the lock longer than the store waits (*wait_s*, 5 s unless given: the CLI) is
:class:`HistoryBusy`, an error that passes: the window waits a few milliseconds only and tries again later.
"""

from __future__ import annotations

import json
import logging
import sqlite3
import time
from collections.abc import Iterable, Sequence
from dataclasses import dataclass
from pathlib import Path

from gpt2q_desktop.core.errors import Gpt2qError
from gpt2q_desktop.core.options import TOP_K_SHOWN
from gpt2q_desktop.core.paths import data_dir
from gpt2q_desktop.core.results import ComparisonRow
from gpt2q_desktop.core.store.durable import replace_retrying

log = logging.getLogger("gpt2q")
FILE_NAME = "history.sqlite3"
SCHEMA_VERSION = 2
BUSY_TIMEOUT_S = 5.0
_MIGRATIONS: dict[int, str] = {
    0: """
        CREATE TABLE rows (
            id INTEGER PRIMARY KEY,
            created REAL NOT NULL,
            checkpoint TEXT NOT NULL,
            checkpoint_key TEXT NOT NULL,
            runtime TEXT NOT NULL,
            noisy INTEGER NOT NULL,
            data TEXT NOT NULL
        );
        CREATE INDEX rows_by_checkpoint ON rows (checkpoint, created);
    """,
    1: "ALTER TABLE rows ADD COLUMN kernels TEXT",  # NULL: ONNX Runtime's own, or rows made before (unknown)
}
"""From each schema version, the statements that lead to the next one."""


class HistoryError(Gpt2qError):
    """The history database cannot be used now (locked, newer, unwritable); rows are kept in memory only."""


class HistoryBusy(HistoryError):
    """Another program held the history database's lock longer than the store waits; nothing was changed, and
    the same call may succeed later."""


@dataclass(frozen=True)
class StoredRow:
    """A row as the database holds it."""

    id: int
    row: ComparisonRow


class HistoryStore:
    """The history database at *path* (default ``<data dir>/history.sqlite3``); :attr:`notes` says what was
    done on opening (a database set aside). While another program holds its lock, every call waits up to
    *wait_s* seconds, then raises :class:`HistoryBusy`."""

    def __init__(self, path: Path | None = None, wait_s: float = BUSY_TIMEOUT_S) -> None:
        self.path = path if path is not None else data_dir() / FILE_NAME
        self.notes: list[str] = []
        self._wait_s = wait_s
        try:
            self._db = self._open_waiting()
        except sqlite3.OperationalError as exc:  # locked, read-only, disk I/O: the file itself is not at fault
            if _is_busy(exc):
                raise HistoryBusy(f"The history database {self.path} is locked by another program ({exc}).") from exc
            raise HistoryError(f"Cannot use the history database {self.path} ({exc}).") from exc
        except sqlite3.DatabaseError as exc:  # not a database, malformed, failed check: set it aside
            self._set_aside(exc)
            self._db = self._open_waiting()

    def _open_waiting(self) -> sqlite3.Connection:
        """:meth:`_open`, tried again for up to *wait_s* seconds while the database is locked.

        SQLite's own busy timeout is not enough: where waiting could deadlock (two processes opening a new
        database at once, both switching it to WAL) it reports "database is locked" at once instead of waiting.
        """
        deadline = time.monotonic() + self._wait_s
        while True:
            try:
                return self._open()
            except sqlite3.OperationalError as exc:
                if not _is_busy(exc) or time.monotonic() >= deadline:
                    raise
                time.sleep(min(0.05, max(0.0, deadline - time.monotonic())))

    def _open(self) -> sqlite3.Connection:
        try:
            self.path.parent.mkdir(parents=True, exist_ok=True)
            db = sqlite3.connect(self.path, timeout=self._wait_s, isolation_level=None, check_same_thread=False)
        except (OSError, sqlite3.OperationalError) as exc:
            raise HistoryError(f"Cannot open the history database {self.path} ({exc}).") from exc
        try:
            if db.execute("PRAGMA quick_check").fetchone()[0] != "ok":
                raise sqlite3.DatabaseError("quick_check failed")
            self._check_version(db)  # before anything writes to a newer database
            db.execute("PRAGMA journal_mode=WAL")
            db.execute("PRAGMA synchronous=NORMAL")  # WAL: a commit is a write, not an fsync (the window adds rows)
            self._migrate(db)
        except BaseException:
            db.close()
            raise
        return db

    def _check_version(self, db: sqlite3.Connection) -> None:
        version = db.execute("PRAGMA user_version").fetchone()[0]
        if version > SCHEMA_VERSION:
            raise HistoryError(
                f"The history database {self.path} was written by a newer gpt2q (schema {version}); it is left as it is."
            )

    def _migrate(self, db: sqlite3.Connection) -> None:
        """Bring the schema to :data:`SCHEMA_VERSION`, one step (one transaction) at a time."""
        while db.execute("PRAGMA user_version").fetchone()[0] < SCHEMA_VERSION:
            db.execute("BEGIN IMMEDIATE")
            try:
                # Read again under the write lock: another process may have migrated while this one waited.
                version = db.execute("PRAGMA user_version").fetchone()[0]
                if version >= SCHEMA_VERSION:
                    db.execute("COMMIT")
                    break
                for statement in filter(str.strip, _MIGRATIONS[version].split(";")):
                    db.execute(statement)
                db.execute(f"PRAGMA user_version = {version + 1}")
                db.execute("COMMIT")
            except BaseException:
                db.execute("ROLLBACK")
                raise

    def _set_aside(self, exc: BaseException) -> None:
        """Rename the unusable database (and its WAL files) beside itself, with a time stamp."""
        stamp = time.strftime("%Y%m%d-%H%M%S")
        kept = self.path.with_name(f"{self.path.name}.corrupt-{stamp}")
        try:
            replace_retrying(self.path, kept)
            for suffix in ("-wal", "-shm"):
                side = self.path.with_name(self.path.name + suffix)
                if side.exists():
                    replace_retrying(side, kept.with_name(kept.name + suffix))
        except OSError as rename_error:
            raise HistoryError(f"The history database {self.path} is unusable ({exc}) and could not be set aside ({rename_error}).") from exc
        self.notes.append(f"The history database was unusable ({exc}); it was kept as {kept} and a new one started.")
        log.warning("history database set aside: %s (%s)", kept, exc)

    # -- rows -----------------------------------------------------------------------------------
    def add(self, rows: Iterable[ComparisonRow]) -> list[int]:
        """Store *rows* in one transaction; their ids."""
        values = [
            (r.time or time.time(), r.checkpoint, r.checkpoint_key, r.runtime, r.kernels, int(r.noisy), json.dumps(_cut(r.as_dict()), ensure_ascii=False))
            for r in rows
        ]
        with self._writing():
            return [
                self._db.execute(
                    "INSERT INTO rows (created, checkpoint, checkpoint_key, runtime, kernels, noisy, data) VALUES (?, ?, ?, ?, ?, ?, ?)", v
                ).lastrowid
                for v in values
            ]

    def load(self, checkpoint: str | None = None) -> list[StoredRow]:
        """Every row (of *checkpoint*, if given), oldest first; a row that cannot be read back is skipped."""
        query, args = "SELECT id, data FROM rows", ()
        if checkpoint is not None:
            query, args = query + " WHERE checkpoint = ?", (checkpoint,)
        try:
            found = self._db.execute(query + " ORDER BY created, id", args).fetchall()
        except sqlite3.DatabaseError as exc:
            kind = HistoryBusy if _is_busy(exc) else HistoryError
            raise kind(f"Cannot read the history database {self.path} ({exc}).") from exc
        out = []
        for row_id, data in found:
            try:
                out.append(StoredRow(row_id, ComparisonRow.from_dict(_cut(json.loads(data)))))
            except (ValueError, TypeError, KeyError) as exc:
                log.warning("history row %s unreadable: %s", row_id, exc)
        return out

    def checkpoints(self) -> list[str]:
        """The checkpoint names that have rows, alphabetically."""
        return [c for (c,) in self._db.execute("SELECT DISTINCT checkpoint FROM rows ORDER BY checkpoint")]

    def delete(self, ids: Sequence[int]) -> None:
        with self._writing():
            self._db.executemany("DELETE FROM rows WHERE id = ?", [(i,) for i in ids])

    def clear(self, checkpoint: str | None = None) -> None:
        """Delete every row (of *checkpoint*, if given)."""
        with self._writing():
            if checkpoint is None:
                self._db.execute("DELETE FROM rows")
            else:
                self._db.execute("DELETE FROM rows WHERE checkpoint = ?", (checkpoint,))

    def set_wait(self, seconds: float) -> None:
        """Wait up to *seconds* for the lock from now on."""
        self._wait_s = seconds
        self._db.execute(f"PRAGMA busy_timeout = {int(seconds * 1000)}")

    def close(self) -> None:
        self._db.close()

    def _writing(self) -> _Transaction:
        return _Transaction(self._db, self.path)


class _Transaction:
    """``BEGIN IMMEDIATE`` … ``COMMIT`` (rolled back on error); a lock held too long or a full disk becomes
    :class:`HistoryError`."""

    def __init__(self, db: sqlite3.Connection, path: Path) -> None:
        self.db, self.path = db, path

    def __enter__(self) -> None:
        try:
            self.db.execute("BEGIN IMMEDIATE")
        except sqlite3.DatabaseError as exc:
            kind = HistoryBusy if _is_busy(exc) else HistoryError
            raise kind(f"The history database {self.path} is busy or unwritable ({exc}); nothing was changed.") from exc

    def __exit__(self, kind: object, exc: BaseException | None, tb: object) -> None:
        if exc is None:
            try:
                self.db.execute("COMMIT")
                return
            except sqlite3.DatabaseError as commit_error:
                exc = commit_error
        self.db.execute("ROLLBACK")
        if isinstance(exc, sqlite3.DatabaseError):
            kind = HistoryBusy if _is_busy(exc) else HistoryError
            raise kind(f"Could not save to the history database {self.path} ({exc}).") from exc


def _cut(row: dict) -> dict:
    """*row* (:meth:`ComparisonRow.as_dict`) with each side's top tokens cut to :data:`TOP_K_SHOWN`."""
    for side in (row.get("fp32"), row.get("int8")) if isinstance(row, dict) else ():
        if isinstance(side, dict) and isinstance(side.get("top"), list):
            side["top"] = side["top"][:TOP_K_SHOWN]
    return row


def _is_busy(exc: BaseException) -> bool:
    return isinstance(exc, sqlite3.OperationalError) and "locked" in str(exc)
