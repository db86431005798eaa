"""The history database: rows kept whole across processes, schema versioned, a bad file set aside, never lost."""

from __future__ import annotations

import json
import sqlite3
import subprocess
import sys
import threading
from dataclasses import replace
from pathlib import Path

import pytest

from gpt2q_desktop.core.measure.inference import Timing, TopToken
from gpt2q_desktop.core.results import ComparisonRow, SideResult
from gpt2q_desktop.core.store.history import _MIGRATIONS, SCHEMA_VERSION, HistoryError, HistoryStore


def _row(prompt: str = "The cat sat", checkpoint: str = "demo", **kw) -> ComparisonRow:
    side = SideResult((TopToken(3797, " mat", 0.4), TopToken(1, "!", 0.1)), Timing(10.0, 12.0, (10.0, 12.0)))
    fast = SideResult(side.top, Timing(4.0, 4.5, (4.0, 4.5)))
    base = ComparisonRow(prompt, 3, "", side, fast, 1e-3, 0.8, 2, 20, "onnxruntime", ("INT8 p90 is 2.0× its median",),
                         checkpoint, "abc123", "per-tensor", 1_700_000_000.0)  # fmt: skip
    return replace(base, **kw)


def test_a_row_comes_back_whole_with_its_context(data_dir: Path) -> None:
    long_prompt = "word " * 5000 + "\n| end"
    store = HistoryStore()
    (row_id,) = store.add([_row(long_prompt)])
    (stored,) = HistoryStore().load()
    assert stored.id == row_id and stored.row.prompt == long_prompt
    assert stored.row.as_dict() == _row(long_prompt).as_dict()  # every field but the raw timing samples
    assert (stored.row.runtime, stored.row.threads, stored.row.noisy, stored.row.checkpoint) == ("onnxruntime", 2, True, "demo")
    assert stored.row.fp32.timing.median_ms == 10.0 and stored.row.int8.top[0].token == " mat"


def test_rows_filter_by_checkpoint_and_delete(data_dir: Path) -> None:
    store = HistoryStore()
    a, b, c = store.add([_row("one", "demo"), _row("two", "gpt2-12l"), _row("three", "demo")])
    assert store.checkpoints() == ["demo", "gpt2-12l"]
    assert [s.row.prompt for s in store.load("demo")] == ["one", "three"]
    store.delete([a])
    assert [s.id for s in store.load()] == [b, c]
    store.clear("demo")
    assert [s.row.prompt for s in store.load()] == ["two"]


def test_two_processes_adding_at_once_lose_no_row(data_dir: Path) -> None:
    code = (
        "import sys; from tests.core.test_history_db import _row; from gpt2q_desktop.core.store.history import HistoryStore\n"
        "s = HistoryStore()\n"
        "for i in range(40): s.add([_row(f'{sys.argv[1]}-{i}')])\n"
    )
    root = Path(__file__).resolve().parents[2]
    procs = [subprocess.Popen([sys.executable, "-c", code, name], cwd=root) for name in ("a", "b")]
    assert [p.wait(timeout=120) for p in procs] == [0, 0]
    prompts = {s.row.prompt for s in HistoryStore().load()}
    assert prompts == {f"{n}-{i}" for n in "ab" for i in range(40)}


class _FirstSwitchToWalIsRefused(sqlite3.Connection):
    """What SQLite does when two processes switch a new database to WAL at once: "locked", without waiting."""

    refusals = 1

    def execute(self, sql: str, *args: object) -> sqlite3.Cursor:
        if sql == "PRAGMA journal_mode=WAL" and _FirstSwitchToWalIsRefused.refusals:
            _FirstSwitchToWalIsRefused.refusals -= 1
            raise sqlite3.OperationalError("database is locked")
        return super().execute(sql, *args)


def test_a_lock_refused_without_waiting_while_opening_is_waited_out(data_dir: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setattr(_FirstSwitchToWalIsRefused, "refusals", 1)
    connect = sqlite3.connect
    monkeypatch.setattr(sqlite3, "connect", lambda *a, **kw: connect(*a, factory=_FirstSwitchToWalIsRefused, **kw))
    store = HistoryStore()
    assert _FirstSwitchToWalIsRefused.refusals == 0 and store.notes == []
    store.add([_row("kept")])
    assert [s.row.prompt for s in HistoryStore().load()] == ["kept"]


class _SaysWhenItAsksForTheLock(sqlite3.Connection):
    """Sets :attr:`asking` when the store asks for the write lock (no sleep guessing when it has got there)."""

    asking = threading.Event()

    def execute(self, sql: str, *args: object) -> sqlite3.Cursor:
        if sql == "BEGIN IMMEDIATE":
            _SaysWhenItAsksForTheLock.asking.set()
        return super().execute(sql, *args)


def test_a_schema_created_by_another_process_while_waiting_is_not_taken_for_corruption(
    data_dir: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    """The other process holds the write lock while this one opens; this one waits, then finds the schema made."""
    data_dir.mkdir(parents=True)
    other = sqlite3.connect(data_dir / "history.sqlite3", isolation_level=None)
    other.execute("PRAGMA journal_mode=WAL")
    other.execute("BEGIN IMMEDIATE")
    connect = sqlite3.connect
    monkeypatch.setattr(sqlite3, "connect", lambda *a, **kw: connect(*a, factory=_SaysWhenItAsksForTheLock, **kw))
    opened: list[HistoryStore] = []
    waiting = threading.Thread(target=lambda: opened.append(HistoryStore()))
    waiting.start()
    assert _SaysWhenItAsksForTheLock.asking.wait(30)  # the store has read schema 0 and asks for the write lock
    for version in range(SCHEMA_VERSION):
        for statement in filter(str.strip, _MIGRATIONS[version].split(";")):
            other.execute(statement)
    other.execute(f"PRAGMA user_version = {SCHEMA_VERSION}")
    other.execute("COMMIT")
    waiting.join(timeout=30)
    (store,) = opened
    assert store.notes == [] and not list(data_dir.glob("*.corrupt-*"))
    store.add([_row()])
    assert [s.row.prompt for s in store.load()] == ["The cat sat"]


def test_a_corrupt_database_is_set_aside_and_a_new_one_started(data_dir: Path) -> None:
    data_dir.mkdir(parents=True)
    bad = data_dir / "history.sqlite3"
    bad.write_bytes(b"this is not a database" * 100)
    store = HistoryStore()
    assert store.load() == [] and len(store.notes) == 1 and "was kept as" in store.notes[0]
    kept = [p for p in data_dir.iterdir() if p.name.startswith("history.sqlite3.corrupt-")]
    assert len(kept) == 1 and kept[0].read_bytes() == b"this is not a database" * 100
    store.add([_row()])
    assert len(HistoryStore().load()) == 1


def test_a_newer_schema_is_left_alone(data_dir: Path) -> None:
    HistoryStore().add([_row()])
    db = sqlite3.connect(data_dir / "history.sqlite3")
    db.execute(f"PRAGMA user_version = {SCHEMA_VERSION + 1}")
    db.commit()
    db.close()
    with pytest.raises(HistoryError, match="newer gpt2q"):
        HistoryStore()
    assert not [p for p in data_dir.iterdir() if "corrupt" in p.name]


def test_a_locked_database_is_reported_not_lost(data_dir: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    import gpt2q_desktop.core.store.history as history_db

    store = HistoryStore()
    store.add([_row("kept")])
    monkeypatch.setattr(history_db, "BUSY_TIMEOUT_S", 0.1)
    blocker = sqlite3.connect(data_dir / "history.sqlite3", isolation_level=None)
    blocker.execute("BEGIN IMMEDIATE")
    try:
        other = HistoryStore()
        with pytest.raises(HistoryError, match="busy or unwritable"):
            other.add([_row("lost?")])
    finally:
        blocker.execute("ROLLBACK")
        blocker.close()
    assert [s.row.prompt for s in HistoryStore().load()] == ["kept"]


def test_the_cli_history_reads_what_compare_wrote(trained_checkpoint: Path, capsys) -> None:
    from gpt2q_desktop.cli.main import main

    fast = ["--repeats", "5", "--warmup", "0", "--threads", "1"]
    assert main(["compare", str(trained_checkpoint), "--prompt", "The cat sat", "a | b", *fast]) == 0
    capsys.readouterr()
    assert main(["history", "--json"]) == 0
    rows = json.loads(capsys.readouterr().out)
    assert [r["prompt"] for r in rows] == ["The cat sat", "a | b"]
    assert all(r["checkpoint"] == trained_checkpoint.name and r["threads"] == 1 and "noisy" in r for r in rows)
    assert main(["history", "--checkpoint", "elsewhere", "--json"]) == 0
    assert json.loads(capsys.readouterr().out) == []
    assert main(["history", "--format", "markdown"]) == 0
    md = capsys.readouterr().out
    assert f"## {trained_checkpoint.name}: 2 rows" in md and "| threads |" in md and "a \\| b" in md
    assert main(["history", "--format", "csv"]) == 0
    assert "noisy" in capsys.readouterr().out.splitlines()[0]


def _huge_top(n: int) -> SideResult:
    return SideResult(tuple(TopToken(i, f" token{i}", 1e-5) for i in range(n)), Timing(10.0, 12.0, ()))


def test_top_tokens_are_kept_only_as_far_as_the_window_shows_them(data_dir: Path) -> None:
    from gpt2q_desktop.core.options import RUN_RANGES, TOP_K_SHOWN

    assert RUN_RANGES["top_k"][1] == TOP_K_SHOWN  # the Top-k box's maximum: the cards show no more
    store = HistoryStore()
    store.add([_row(fp32=_huge_top(5_000), int8=_huge_top(5_000))])  # gpt2q compare --top-k 5000
    db = sqlite3.connect(data_dir / "history.sqlite3")
    (size,) = db.execute("SELECT length(data) FROM rows").fetchone()
    db.close()
    assert size < 20_000, f"{size:,} bytes stored for one row"
    (back,) = store.load()
    assert back.row.fp32.top == _huge_top(TOP_K_SHOWN).top and back.row.int8.top == _huge_top(TOP_K_SHOWN).top


def test_an_old_row_with_a_huge_top_list_loads_cut(data_dir: Path) -> None:
    from gpt2q_desktop.core.options import TOP_K_SHOWN

    store = HistoryStore()
    (row_id,) = store.add([_row("old")])
    old = _row("old", fp32=_huge_top(50_257), int8=_huge_top(50_257)).as_dict()  # as an earlier version stored it
    db = sqlite3.connect(data_dir / "history.sqlite3")
    db.execute("UPDATE rows SET data = ? WHERE id = ?", (json.dumps(old), row_id))
    db.commit()
    db.close()
    (back,) = HistoryStore().load()
    assert back.row.prompt == "old" and back.row.fp32.top == _huge_top(TOP_K_SHOWN).top
    assert len(back.row.int8.top) == TOP_K_SHOWN and back.row.int8.token == " token0"


def test_a_schema_1_database_gains_the_kernels_column_and_its_rows_read_as_unknown(data_dir: Path) -> None:
    from gpt2q_desktop.core.runtimes import Kernels

    data_dir.mkdir(parents=True)
    db = sqlite3.connect(data_dir / "history.sqlite3")
    for statement in filter(str.strip, _MIGRATIONS[0].split(";")):
        db.execute(statement)
    old = _row("old", runtime="torch").as_dict()
    del old["kernels"]  # as schema 1 stored it
    db.execute(
        "INSERT INTO rows (created, checkpoint, checkpoint_key, runtime, noisy, data) VALUES (?, ?, ?, ?, ?, ?)",
        (1.0, "demo", "abc123", "torch", 0, json.dumps(old)),
    )
    db.execute("PRAGMA user_version = 1")
    db.commit()
    db.close()
    store = HistoryStore()
    store.add([_row("new", runtime="torch", kernels=Kernels.QNNPACK, time=2.0)])
    assert [(s.row.prompt, s.row.kernels) for s in store.load()] == [("old", None), ("new", "qnnpack")]
    store.close()
    db = sqlite3.connect(data_dir / "history.sqlite3")
    assert db.execute("PRAGMA user_version").fetchone()[0] == SCHEMA_VERSION == 2
    assert db.execute("SELECT kernels FROM rows ORDER BY id").fetchall() == [(None,), ("qnnpack",)]
    db.close()
    future = {**_row().as_dict(), "kernels": "onednn"}  # kernels a later gpt2q may know: unknown, the row kept
    assert ComparisonRow.from_dict(future).kernels is None
