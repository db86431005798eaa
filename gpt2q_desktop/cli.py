"""``gpt2q``: quantize a GPT-2 student and compare FP32 with INT8 from the command line.

Progress and notes go to stderr, results to stdout. Exit codes: 0 success, 2 user error (one line,
no traceback), 130 interrupted.
"""

from __future__ import annotations

import argparse
import json
import logging
import sys
from collections.abc import Sequence
from pathlib import Path
from typing import Any, TextIO

from .core.errors import Gpt2qError

log = logging.getLogger("gpt2q")


class StderrProgress:
    """``progress(done, total, message)`` drawn on one stderr line (a line per step when not a tty)."""

    def __init__(self, stream: TextIO = sys.stderr) -> None:
        self.stream = stream
        self.tty = stream.isatty()

    def __call__(self, done: int, total: int, message: str) -> None:
        text = f"[{done:>3}/{total}] {message}"
        if self.tty:
            self.stream.write("\r\033[K" + text + ("\n" if done >= total else ""))
        elif done in (0, total):
            self.stream.write(text + "\n")
        self.stream.flush()


def _layers(text: str) -> tuple[int, ...]:
    """A comma-separated list of whole numbers, e.g. ``0,3``."""
    try:
        return tuple(sorted({int(x) for x in text.split(",") if x.strip()}))
    except ValueError:
        raise argparse.ArgumentTypeError(f"expected whole numbers like 0,3: {text!r}") from None


def _at_least(minimum: int) -> Any:
    """An argparse type: a whole number not below *minimum*."""

    def parse(text: str) -> int:
        try:
            value = int(text)
        except ValueError:
            raise argparse.ArgumentTypeError(f"expected a whole number: {text!r}") from None
        if value < minimum:
            raise argparse.ArgumentTypeError(f"must be at least {minimum}: {value}")
        return value

    return parse


def _add_checkpoint_args(p: argparse.ArgumentParser) -> None:
    p.add_argument("checkpoint", nargs="?", help="checkpoint folder (default: the bundled demo student)")
    p.add_argument("--tokenizer", metavar="DIR", help="tokenizer folder, if not in the checkpoint folder")


def _add_recipe_args(p: argparse.ArgumentParser) -> None:
    g = p.add_argument_group("recipe")
    g.add_argument("--per-channel", action="store_true", help="one scale per output channel (default: per tensor)")
    g.add_argument("--keep-lm-head", action="store_true", help="keep lm_head (and the tied wte) in FP32")
    g.add_argument("--fp32-embeddings", action="store_true", help="keep token/position embeddings in FP32")
    g.add_argument("--exclude-layers", type=_layers, default=(), metavar="I,J", help="blocks to keep in FP32")


def _add_text_args(p: argparse.ArgumentParser, default_tokens: int) -> None:
    p.add_argument("--text", type=Path, metavar="F", help="UTF-8 text (default: the demo student's held-out text)")
    p.add_argument("--max-tokens", type=_at_least(2), default=default_tokens, help=f"tokens to evaluate (default {default_tokens:,})")
    p.add_argument("--threads", type=_at_least(1), default=None, help="torch threads (default: cores, at most 8)")


def build_parser() -> argparse.ArgumentParser:
    from .version import __version__

    parser = argparse.ArgumentParser(prog="gpt2q", description="Quantize a GPT-2 student to INT8 and compare it with FP32.")
    parser.add_argument("--version", action="version", version=f"gpt2q {__version__}")
    parser.add_argument("-v", "--verbose", action="store_true", help="log details on stderr")
    sub = parser.add_subparsers(dest="command", required=True)

    q = sub.add_parser("quantize", help="quantize a checkpoint to INT8 (cached)")
    _add_checkpoint_args(q)
    _add_recipe_args(q)
    q.add_argument("--json", action="store_true", help="print one JSON object")

    c = sub.add_parser("compare", help="FP32 vs INT8 next token, probability and latency per prompt")
    _add_checkpoint_args(c)
    src = c.add_mutually_exclusive_group(required=True)
    src.add_argument("--prompt", action="extend", nargs="+", metavar="TEXT", help="one or more prompts")
    src.add_argument("--prompts-file", type=Path, metavar="F", help="a UTF-8 text file, one prompt a line")
    c.add_argument("--repeats", type=_at_least(1), default=20, help="timed calls per model (default 20)")
    c.add_argument("--warmup", type=_at_least(0), default=3, help="untimed calls first (default 3)")
    c.add_argument("--threads", type=_at_least(1), default=None, help="torch threads (default: cores, at most 8)")
    c.add_argument("--top-k", type=_at_least(1), default=5, help="top tokens to report (default 5)")
    c.add_argument("--format", choices=("table", "json", "csv", "markdown"), default="table")
    _add_recipe_args(c)

    b = sub.add_parser("bench", help="speed and size of FP32 and INT8 variants on GPT-2s of real shapes")
    b.add_argument("--layers", type=_layers, default=(6, 12), metavar="6,12", help="synthetic model depths")
    b.add_argument("--prompt-tokens", type=_layers, default=(8, 32), metavar="8,32", help="prompt lengths")
    b.add_argument("--threads", type=_at_least(1), default=None, help="torch threads (default: cores, at most 8)")
    b.add_argument("--repeats", type=_at_least(1), default=20, help="timed calls per variant (default 20)")
    b.add_argument("--warmup", type=_at_least(0), default=3, help="untimed calls first (default 3)")
    b.add_argument("--no-demo", action="store_true", help="skip the bundled demo student")
    b.add_argument("--json", action="store_true", help="print a JSON list of rows")

    e = sub.add_parser("eval", help="perplexity, KL, Δp and top-1 agreement of FP32 vs INT8 over a text")
    _add_checkpoint_args(e)
    _add_text_args(e, default_tokens=20_000)
    _add_recipe_args(e)
    e.add_argument("--json", action="store_true", help="print one JSON object")

    s = sub.add_parser("sensitivity", help="rank blocks by the KL each adds when quantized alone")
    _add_checkpoint_args(s)
    _add_text_args(s, default_tokens=512)
    s.add_argument("--per-channel", action="store_true", help="one scale per output channel")
    s.add_argument("--json", action="store_true", help="print a JSON list, most sensitive first")

    k = sub.add_parser("cache", help="list or clear cached INT8 models")
    k.add_argument("action", choices=("list", "clear"))
    k.add_argument("--json", action="store_true")
    return parser


def _recipe(args: argparse.Namespace) -> Any:
    from .core.options import RecipeOptions

    return RecipeOptions(
        per_channel=args.per_channel,
        keep_lm_head=args.keep_lm_head,
        quantize_embeddings=not args.fp32_embeddings,
        exclude_layers=args.exclude_layers,
    )


def _checkpoint_path(args: argparse.Namespace) -> Path:
    from .core.paths import demo_student_dir

    return Path(args.checkpoint) if args.checkpoint else demo_student_dir()


def cmd_quantize(args: argparse.Namespace, out: TextIO) -> int:
    from .core.cache import QuantCache
    from .core.checkpoint import inspect_checkpoint, load_checkpoint
    from .core.engine import quantize_checkpoint

    info = inspect_checkpoint(_checkpoint_path(args), args.tokenizer, require_tokenizer=False)
    print(info.summary(), file=sys.stderr)
    _, report = quantize_checkpoint(
        info,
        _recipe(args),
        lambda: load_checkpoint(info.path, args.tokenizer, require_tokenizer=False).model,
        QuantCache(),
        progress=StderrProgress(),
    )
    for note in report.notes:
        print(f"note: {note}", file=sys.stderr)
    if args.json:
        print(json.dumps(report.as_dict(), indent=2), file=out)
    else:
        print(report.summary(), file=out)
        print(f"cache entry: {report.cache_dir or '(not cached)'}", file=out)
    return 0


def cmd_compare(args: argparse.Namespace, out: TextIO) -> int:
    from .core.cache import QuantCache
    from .core.checkpoint import load_checkpoint
    from .core.compare import compare_prompt
    from .core.engine import quantize_checkpoint
    from .core.report import render, summary
    from .core.runner import RunSettings, default_threads, encode_prompt
    from .core.text import read_prompts

    prompts = args.prompt if args.prompt else read_prompts(args.prompts_file)
    settings = RunSettings(args.repeats, args.warmup, args.threads or default_threads(), args.top_k)
    loaded = load_checkpoint(_checkpoint_path(args), args.tokenizer)
    print(loaded.info.summary(), file=sys.stderr)
    for note in loaded.notes:
        print(f"note: {note}", file=sys.stderr)
    n_positions = loaded.info.n_positions
    for text in prompts:  # refuse a bad prompt before any long work
        encode_prompt(loaded.tokenizer, text, n_positions)
    int8, report = quantize_checkpoint(
        loaded.info, _recipe(args), lambda: loaded.model, QuantCache(), progress=StderrProgress()
    )
    print(f"INT8: {report.summary()}", file=sys.stderr)
    rows = []
    for i, text in enumerate(prompts, 1):
        print(f"[{i}/{len(prompts)}] timing {settings.repeats}× per model on {settings.threads} threads", file=sys.stderr)
        row = compare_prompt(loaded.model, int8, loaded.tokenizer, text, settings, n_positions)
        if row.note:
            print(f"note: {row.note}", file=sys.stderr)
        rows.append(row)
    print(render(rows, args.format), end="", file=out)
    if args.format == "table":
        print(summary(rows), file=out)
    return 0


def cmd_bench(args: argparse.Namespace, out: TextIO) -> int:
    from .core.bench import read_bandwidth_gbs, render_bench, run_bench
    from .core.paths import demo_student_dir
    from .core.runner import default_threads

    threads = args.threads or default_threads()
    demo = None if args.no_demo or not demo_student_dir().is_dir() else demo_student_dir()
    bandwidth = read_bandwidth_gbs(threads)
    print(f"read bandwidth ≈ {bandwidth:.1f} GB/s on {threads} threads", file=sys.stderr)
    rows = run_bench(
        list(args.layers), list(args.prompt_tokens), threads, args.repeats, args.warmup, demo,
        log=lambda msg: print(msg, file=sys.stderr),
    )  # fmt: skip
    if args.json:
        print(json.dumps([r.as_dict() for r in rows], indent=2), file=out)
    else:
        print(f"gpt2q bench: {threads} threads, {args.repeats} repeats, read bandwidth ≈ {bandwidth:.1f} GB/s", file=out)
        print(render_bench(rows, bandwidth), end="", file=out)
    return 0


def _text_path(args: argparse.Namespace) -> Path:
    from .core.paths import demo_heldout_text

    return args.text if args.text else demo_heldout_text()


def cmd_eval(args: argparse.Namespace, out: TextIO) -> int:
    from .core.cache import QuantCache
    from .core.checkpoint import load_checkpoint
    from .core.engine import quantize_checkpoint
    from .core.quality import evaluate_text, read_text
    from .core.runner import default_threads, torch_threads

    text = _text_path(args)
    chunks = read_text(text)
    first = next(chunks, "")  # fail on a bad file before any long work
    loaded = load_checkpoint(_checkpoint_path(args), args.tokenizer)
    int8, report = quantize_checkpoint(loaded.info, _recipe(args), lambda: loaded.model, QuantCache(), progress=StderrProgress())
    print(f"INT8: {report.summary()}", file=sys.stderr)
    with torch_threads(args.threads or default_threads()):
        result = evaluate_text(
            loaded.model, int8, loaded.tokenizer, _chain(first, chunks), loaded.info.n_positions,
            args.max_tokens, progress=StderrProgress(),
        )  # fmt: skip
    if args.json:
        print(json.dumps({"text": str(text), **result.as_dict()}, indent=2), file=out)
    else:
        print(result.summary(), file=out)
        edges = ["<1e-7"] + [f"≥{b:.0e}" for b in result.kl_bins]
        print("KL histogram: " + ", ".join(f"{e} {c}" for e, c in zip(edges, result.kl_histogram)), file=out)
    return 0


def _chain(first: str, rest: Any) -> Any:
    yield first
    yield from rest


def cmd_sensitivity(args: argparse.Namespace, out: TextIO) -> int:
    from .core.checkpoint import load_checkpoint
    from .core.quality import layer_sensitivity, read_text
    from .core.runner import default_threads, torch_threads

    text = "".join(read_text(_text_path(args)))[: args.max_tokens * 16]
    loaded = load_checkpoint(_checkpoint_path(args), args.tokenizer)
    with torch_threads(args.threads or default_threads()):
        scores = layer_sensitivity(
            loaded.model, loaded.tokenizer, text, loaded.info.n_positions, args.max_tokens,
            per_channel=args.per_channel, progress=StderrProgress(),
        )  # fmt: skip
    if args.json:
        print(json.dumps([s.as_dict() for s in scores], indent=2), file=out)
    else:
        print(f"{'rank':<6}{'quantized alone':<24}{'KL mean':>10}{'same top':>10}", file=out)
        for rank, s in enumerate(scores, 1):
            print(f"{rank:<6}{s.layer:<24}{s.kl_mean:>10.2e}{s.top1_agreement:>10.1%}", file=out)
    return 0


def cmd_cache(args: argparse.Namespace, out: TextIO) -> int:
    from .core.cache import QuantCache

    cache = QuantCache()
    if args.action == "clear":
        n = cache.clear()
        print(json.dumps({"deleted": n, "cache_dir": str(cache.root)}) if args.json else f"deleted {n} entries", file=out)
        return 0
    entries = cache.entries()
    if args.json:
        print(json.dumps({"cache_dir": str(cache.root), "entries": [e.as_dict() for e in entries]}, indent=2), file=out)
        return 0
    print(f"{cache.root}: {len(entries)} entr{'y' if len(entries) == 1 else 'ies'}, {sum(e.bytes for e in entries) / 1e6:.1f} MB", file=out)
    for e in entries:
        opts = e.manifest.get("options", {})
        print(f"  {e.key}  {e.bytes / 1e6:8.1f} MB  {e.source_name}  {json.dumps(opts, sort_keys=True)}", file=out)
    return 0


COMMANDS = {
    "quantize": cmd_quantize,
    "compare": cmd_compare,
    "bench": cmd_bench,
    "eval": cmd_eval,
    "sensitivity": cmd_sensitivity,
    "cache": cmd_cache,
}


def main(argv: Sequence[str] | None = None, out: TextIO | None = None) -> int:
    args = build_parser().parse_args(argv)
    from .core.logs import setup_logging

    setup_logging(args.verbose)
    try:
        return COMMANDS[args.command](args, out or sys.stdout)
    except Gpt2qError as exc:
        log.debug("user error", exc_info=True)
        print(f"gpt2q: error: {exc}", file=sys.stderr)
        return 2
    except KeyboardInterrupt:
        print("\ngpt2q: cancelled; the cache is unchanged.", file=sys.stderr)
        return 130


if __name__ == "__main__":
    sys.exit(main())
