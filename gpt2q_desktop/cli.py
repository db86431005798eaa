"""``gpt2q``: quantize a GPT-2 student and compare FP32 with INT8 from the command line.

Progress and notes go to stderr, results to stdout. Exit codes: 0 success, 2 user error (one line,
no traceback), 130 interrupted.
"""

from __future__ import annotations

import argparse
import json
import logging
import sys
import time
from collections.abc import Sequence
from pathlib import Path
from typing import TYPE_CHECKING, TextIO

from gpt2q_desktop.core.errors import Gpt2qError
from gpt2q_desktop.core.sizes import mb
from gpt2q_desktop.core.text import counted, printable

if TYPE_CHECKING:
    from gpt2q_desktop.core.options import RecipeOptions
    from gpt2q_desktop.core.results import ComparisonRow
    from gpt2q_desktop.core.session import Session

log = logging.getLogger("gpt2q")


class StderrProgress:
    """``progress(done, total, message)`` on stderr: one redrawn line on a tty; otherwise a line at the first
    and last step of each phase and in between only every :attr:`EVERY_FRACTION` of it or :attr:`EVERY_SECONDS`."""

    EVERY_FRACTION = 0.1
    EVERY_SECONDS = 10.0

    def __init__(self, stream: TextIO | None = None) -> None:
        self.stream = stream or sys.stderr  # looked up now: sys.stderr may have been replaced since import
        self.tty = self.stream.isatty()
        self._last = (-1, -1, 0.0)  # total, done and time of the last line written (not on a tty)

    def __call__(self, done: int, total: int, message: str) -> None:
        text = f"[{done:>3}/{total}] {printable(message)}"
        if self.tty:
            self.stream.write("\r\033[K" + text + ("\n" if done >= total else ""))
        elif self._due(done, total):
            self.stream.write(text + "\n")
        self.stream.flush()

    def _due(self, done: int, total: int) -> bool:
        """Whether a non-tty line is due: a new phase, its last step, or enough steps or time since the last."""
        last_total, last_done, last_time = self._last
        now = time.monotonic()
        due = (
            total != last_total or done < last_done or done >= total
            or done - last_done >= total * self.EVERY_FRACTION or now - last_time >= self.EVERY_SECONDS
        )  # fmt: skip
        if due:
            self._last = (total, done, now)
        return due


def _err(text: str) -> None:
    """One line on stderr, with control and bidi characters made visible."""
    print(printable(text), file=sys.stderr)


def _recipe(args: argparse.Namespace) -> RecipeOptions:
    from gpt2q_desktop.core.options import RecipeOptions

    return RecipeOptions(
        per_channel=args.per_channel,
        keep_lm_head=args.keep_lm_head,
        quantize_embeddings=not args.fp32_embeddings,
        exclude_layers=args.exclude_layers,
    )


def _session(args: argparse.Namespace, require_tokenizer: bool = True, announce_int8: bool = True) -> Session:
    """A session on the checkpoint the arguments name (checked, not loaded yet); its INT8 reports go to stderr."""
    from gpt2q_desktop.core.paths import demo_student_dir
    from gpt2q_desktop.core.session import Session

    session = Session()
    path = Path(args.checkpoint) if args.checkpoint else demo_student_dir()
    info = session.open(path, args.tokenizer, require_tokenizer)
    _err(info.summary())
    if announce_int8:
        session.on_quantized = lambda report: _notes(report.notes, f"INT8: {report.summary()}")
    return session


def _notes(notes: list[str], first: str = "") -> None:
    if first:
        _err(first)
    for note in notes:
        _err(f"note: {note}")


def cmd_quantize(args: argparse.Namespace, out: TextIO) -> int:
    from gpt2q_desktop.core.runtimes import runtimes_of

    session = _session(args, require_tokenizer=False, announce_int8=False)
    reports = [session.quantize(_recipe(args), StderrProgress(), None, rt) for rt in runtimes_of(args.runtime)]
    for report in reports:
        _notes(report.notes)
    if args.json:
        dicts = [r.as_dict() for r in reports]
        print(json.dumps(dicts[0] if len(dicts) == 1 else dicts, indent=2), file=out)
        return 0
    for report in reports:
        print(report.summary(), file=out)
        print(f"cache entry: {report.cache_dir or '(not cached)'}", file=out)
    return 0


def cmd_compare(args: argparse.Namespace, out: TextIO) -> int:
    from gpt2q_desktop.core.measure.inference import resolved
    from gpt2q_desktop.core.measure.render import render, summary
    from gpt2q_desktop.core.options import RunSettings
    from gpt2q_desktop.core.runtimes import runtimes_of
    from gpt2q_desktop.core.text import read_prompts

    prompts = args.prompt if args.prompt else read_prompts(args.prompts_file)
    settings = resolved(RunSettings(repeats=args.repeats, warmup=args.warmup, threads=args.threads, top_k=args.top_k))
    session = _session(args)
    _notes(session.load().notes)
    rows = []
    runtimes = runtimes_of(args.runtime)
    compared = session.compare(prompts, _recipe(args), settings, StderrProgress(), None, runtimes)
    print(f"timing {settings.repeats}× per model on {counted(settings.threads, 'thread')}", file=sys.stderr)
    for row in compared:
        if row.note and row.runtime == runtimes[0]:
            _notes([row.note])
        rows.append(row)
    _save_history(rows)
    print(render(rows, args.format), end="", file=out)
    if args.format in ("table", "markdown"):
        print(("\n" if args.format == "markdown" else "") + summary(rows), file=out)
    return 0


def cmd_export(args: argparse.Namespace, out: TextIO) -> int:
    session = _session(args)
    folder = session.export_onnx(args.out, _recipe(args), args.force, StderrProgress())
    print(f"INT8 model for ONNX Runtime written to {folder}; see {folder / 'README.md'} to run it.", file=out)
    return 0


def cmd_bench(args: argparse.Namespace, out: TextIO) -> int:
    from gpt2q_desktop.core.bench.run import read_bandwidth_gbs, run_bench
    from gpt2q_desktop.core.bench.table import render_bench
    from gpt2q_desktop.core.measure.inference import default_threads
    from gpt2q_desktop.core.paths import demo_student_dir

    threads = args.threads or default_threads()
    demo = None if args.no_demo or not demo_student_dir().is_dir() else demo_student_dir()
    bandwidth = read_bandwidth_gbs(threads)
    print(f"read bandwidth ≈ {bandwidth:.1f} GB/s on {counted(threads, 'thread')}", file=sys.stderr)
    rows = run_bench(
        list(args.layers), list(args.prompt_tokens), threads, args.repeats, args.warmup, demo,
        log=lambda msg: print(msg, file=sys.stderr), retries=args.retries,
    )  # fmt: skip
    if args.json:
        print(json.dumps([r.as_dict() for r in rows], indent=2), file=out)
    else:
        print(f"gpt2q bench: {counted(threads, 'thread')}, {counted(args.repeats, 'repeat')}, read bandwidth ≈ {bandwidth:.1f} GB/s", file=out)
        print(render_bench(rows, bandwidth, threads), end="", file=out)
    return 0


def _text_path(args: argparse.Namespace) -> Path:
    from gpt2q_desktop.core.paths import demo_heldout_text

    return args.text if args.text else demo_heldout_text()


def cmd_eval(args: argparse.Namespace, out: TextIO) -> int:
    from gpt2q_desktop.core.runtimes import runtime_label, runtimes_of

    text = _text_path(args)
    session = _session(args)
    runtimes = runtimes_of(args.runtime)
    results = [
        session.evaluate(text, args.max_tokens, _recipe(args), args.threads, StderrProgress(), None, rt) for rt in runtimes
    ]
    if args.json:
        dicts = [{"text": str(text), "runtime": rt, **r.as_dict()} for rt, r in zip(runtimes, results)]
        print(json.dumps(dicts[0] if len(dicts) == 1 else dicts, indent=2), file=out)
        return 0
    for rt, result in zip(runtimes, results):
        where = f"{runtime_label(rt)}: " if len(runtimes) > 1 else ""
        print(where + result.summary(), file=out)
        edges = ["<1e-7"] + [f"≥{b:.0e}" for b in result.kl_bins]
        print("KL histogram: " + ", ".join(f"{e} {c}" for e, c in zip(edges, result.kl_histogram)), file=out)
    return 0


def cmd_sensitivity(args: argparse.Namespace, out: TextIO) -> int:
    from gpt2q_desktop.core.options import RecipeOptions

    session = _session(args, announce_int8=False)
    options = RecipeOptions(per_channel=args.per_channel)
    scores = session.rank_layers(_text_path(args), args.max_tokens, options, args.threads, progress=StderrProgress())
    if args.json:
        print(json.dumps([s.as_dict() for s in scores], indent=2), file=out)
    else:
        print(f"{'rank':<6}{'quantized alone':<24}{'KL mean':>10}{'same top':>10}", file=out)
        for rank, s in enumerate(scores, 1):
            print(f"{rank:<6}{s.layer:<24}{s.kl_mean:>10.2e}{s.top1_agreement:>10.1%}", file=out)
    return 0


def cmd_history(args: argparse.Namespace, out: TextIO) -> int:
    from gpt2q_desktop.core.measure.render import render
    from gpt2q_desktop.core.store.history import HistoryStore

    store = HistoryStore()
    _notes(store.notes)
    stored = store.load(args.checkpoint)
    rows = [s.row for s in stored]
    if args.json:
        print(json.dumps([{"id": s.id, **s.row.as_dict()} for s in stored], indent=2, ensure_ascii=False), file=out)
        return 0
    if args.format == "csv":
        print(render(rows, "csv"), end="", file=out)
        return 0
    if not rows:
        print(f"no rows{f' of {args.checkpoint}' if args.checkpoint else ''} in {store.path}", file=out)
    for name in dict.fromkeys(r.checkpoint for r in rows):  # a table per checkpoint
        picked = [r for r in rows if r.checkpoint == name]
        heading = f"{name or '(unnamed)'}: {len(picked)} row{'s' if len(picked) != 1 else ''}"
        print(f"## {heading}\n" if args.format == "markdown" else heading, file=out)
        print(render(picked, args.format), file=out)
    return 0


def _save_history(rows: list[ComparisonRow]) -> None:
    """Add *rows* to the history database; a database that cannot take them is a note, not a failure."""
    from gpt2q_desktop.core.store.history import HistoryError, HistoryStore

    try:
        store = HistoryStore()
        _notes(store.notes)
        store.add(rows)
        store.close()
    except HistoryError as exc:
        _notes([f"{exc} (the results above are not in the history)"])


def cmd_cache(args: argparse.Namespace, out: TextIO) -> int:
    from gpt2q_desktop.core.store.model_cache import QuantCache

    cache = QuantCache()
    if args.action == "clear":
        n = cache.clear()
        print(json.dumps({"deleted": n, "cache_dir": str(cache.root)}) if args.json else f"deleted {n} entries", file=out)
        return 0
    entries = cache.entries()
    if args.json:
        print(json.dumps({"cache_dir": str(cache.root), "entries": [e.as_dict() for e in entries]}, indent=2), file=out)
        return 0
    print(f"{cache.root}: {counted(len(entries), 'entry', 'entries')}, {mb(sum(e.bytes for e in entries))} on disk", file=out)
    for e in entries:
        print(f"  {e.key}  {mb(e.bytes):>10} on disk  {e.source_name}  {e.describe()}", file=out)
    return 0


COMMANDS = {
    "quantize": cmd_quantize,
    "compare": cmd_compare,
    "export": cmd_export,
    "bench": cmd_bench,
    "eval": cmd_eval,
    "sensitivity": cmd_sensitivity,
    "cache": cmd_cache,
    "history": cmd_history,
}


def main(argv: Sequence[str] | None = None, out: TextIO | None = None) -> int:
    from .cli_parser import build_parser

    args = build_parser().parse_args(argv)
    from gpt2q_desktop.core.logs import setup_logging

    setup_logging(args.verbose)
    try:
        return COMMANDS[args.command](args, out or sys.stdout)
    except Gpt2qError as exc:
        log.debug("user error", exc_info=True)
        _err(f"gpt2q: error: {exc}")
        return 2
    except KeyboardInterrupt:
        print("\ngpt2q: cancelled; the cache is unchanged.", file=sys.stderr)
        return 130


if __name__ == "__main__":
    sys.exit(main())
