"""The commands on the stores in the data folder: the comparison history and the model cache."""

from __future__ import annotations

import argparse
import json
from typing import TYPE_CHECKING, TextIO

from gpt2q_desktop.core.sizes import mb
from gpt2q_desktop.core.text import counted

from .output import notes, print_data

if TYPE_CHECKING:
    from gpt2q_desktop.core.results import ComparisonRow


def cmd_history(args: argparse.Namespace, out: TextIO) -> int:
    from gpt2q_desktop.core.measure.render import render
    from gpt2q_desktop.core.store.history import HistoryStore

    store = HistoryStore()
    notes(store.notes)
    stored = store.load(args.checkpoint)
    rows = [s.row for s in stored]
    if args.json:
        print_data(json.dumps([{"id": s.id, **s.row.as_dict()} for s in stored], indent=2, ensure_ascii=False), out)
        return 0
    if args.format == "csv":
        print_data(render(rows, "csv").removesuffix("\n"), out)
        return 0
    if not rows:
        print(f"no rows{f' of {args.checkpoint}' if args.checkpoint else ''} in {store.path}", file=out)
    for name in dict.fromkeys(r.checkpoint for r in rows):  # a table per checkpoint
        picked = [r for r in rows if r.checkpoint == name]
        heading = f"{name or '(unnamed)'}: {len(picked)} row{'s' if len(picked) != 1 else ''}"
        print(f"## {heading}\n" if args.format == "markdown" else heading, file=out)
        print(render(picked, args.format), file=out)
    return 0


def save_history(rows: list[ComparisonRow]) -> None:
    """Add *rows* to the history database; a database that cannot take them is a note, not a failure."""
    from gpt2q_desktop.core.store.history import HistoryError, HistoryStore

    try:
        store = HistoryStore()
        notes(store.notes)
        store.add(rows)
        store.close()
    except HistoryError as exc:
        notes([f"{exc} (the results above are not in the history)"])


def cmd_cache(args: argparse.Namespace, out: TextIO) -> int:
    from gpt2q_desktop.core.store.model_cache import QuantCache

    cache = QuantCache()
    if args.action == "clear":
        said: list[str] = []  # links removed, entries that stay: not counted as deleted
        n = cache.clear(said)
        notes(said)
        cleared = {"deleted": n, "cache_dir": str(cache.root), "notes": said}
        print(json.dumps(cleared) if args.json else f"deleted {counted(n, 'entry', 'entries')}", file=out)
        return 0
    entries = cache.entries()
    if args.json:
        print(json.dumps({"cache_dir": str(cache.root), "entries": [e.as_dict() for e in entries]}, indent=2), file=out)
        return 0
    print(f"{cache.root}: {counted(len(entries), 'entry', 'entries')}, {mb(sum(e.bytes for e in entries))} on disk", file=out)
    for e in entries:
        print(f"  {e.key}  {mb(e.bytes):>10} on disk  {e.source_name}  {e.describe()}", file=out)
    return 0
