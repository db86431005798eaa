"""``gpt2q-desktop --self-test``: prove, headless, that this install (or frozen bundle) really works.

It loads the bundled demo student (or ``--checkpoint DIR``), quantizes it to INT8 into a throw-away data
directory, reloads the INT8 model from that cache, compares FP32 with INT8 on a few prompts and paints a
Qt widget (the app's icon included) offscreen. One verdict line goes to stdout::

    self-test OK: 17/17 layers INT8, 5/5 prompts agree, INT8 1.9x faster, Qt painted (offscreen, main window), 30.2 s
    self-test FAILED: <reason>

and the exit code is 0 only when every step worked: every eligible linear is INT8, the cache round
trip gives the same model, both models answered every prompt with a finite distribution, top-1
agreement reached the floor (default 80 % of the prompts) and Qt rendered the widget and the icon.
Details go to stderr. Nothing is written outside the temporary directory.
"""

from __future__ import annotations

import argparse
import sys
import time
import traceback
from collections.abc import Sequence
from pathlib import Path

from .core_checks import check_core
from .verdict import Outcome, SelfTestFailure, out, say

DEFAULT_PROMPTS = (
    "It is a truth universally acknowledged, that a single man in possession of a good fortune, must be in want of a",
    "Elizabeth could not help",
    "She was the youngest of the two daughters of a most affectionate, indulgent",
    "I am sure I shall",
    "Once upon a time there was a little girl who lived in a village near the",
)
DEFAULT_MIN_AGREEMENT = 0.8



def build_parser() -> argparse.ArgumentParser:
    p = argparse.ArgumentParser(
        prog="gpt2q-desktop --self-test",
        description="Headless check of this install: quantize a checkpoint, compare FP32 with INT8, paint Qt offscreen.",
    )
    p.add_argument("--self-test", action="store_true", help=argparse.SUPPRESS)
    p.add_argument("--checkpoint", metavar="DIR", help="checkpoint folder to test (default: the bundled demo student)")
    p.add_argument(
        "--prompt", action="append", metavar="TEXT", help="a prompt to compare (repeatable; default: 5 built-in prompts)"
    )
    p.add_argument(
        "--min-agreement",
        type=float,
        default=DEFAULT_MIN_AGREEMENT,
        metavar="F",
        help=f"share of prompts whose FP32 and INT8 top-1 token must agree (default {DEFAULT_MIN_AGREEMENT})",
    )
    p.add_argument("--no-qt", action="store_true", help="skip the Qt check (core only)")
    return p


def run(argv: Sequence[str] | None = None) -> int:
    """Run the self-test; print one verdict line; return 0 if every check passed, else 1."""
    args, unknown = build_parser().parse_known_args(list(sys.argv[1:] if argv is None else argv))
    if unknown:
        say(f"ignoring arguments: {' '.join(unknown)}")
    if not 0.0 <= args.min_agreement <= 1.0:
        out("self-test FAILED: --min-agreement must be between 0 and 1")
        return 1
    from gpt2q_desktop.core.paths import demo_student_dir
    from gpt2q_desktop.core.platforms import import_torch_first, torch_load_problem

    problem = import_torch_first()  # on Windows, before the Qt checks import Qt
    if problem:
        out(f"self-test FAILED: {problem}")
        return 1
    checkpoint = Path(args.checkpoint).expanduser() if args.checkpoint else demo_student_dir()
    prompts = [p for p in (args.prompt or DEFAULT_PROMPTS) if p.strip()]
    if not prompts:
        out("self-test FAILED: no prompts")
        return 1
    start = time.perf_counter()
    outcome = Outcome()
    try:
        if not args.no_qt:
            from .qt_checks import check_qt

            outcome.qt = check_qt()
            say(outcome.qt)
        check_core(checkpoint, prompts, args.min_agreement, outcome)
    except SelfTestFailure as exc:
        out(f"self-test FAILED: {exc}")
        return 1
    except KeyboardInterrupt:
        out("self-test FAILED: interrupted")
        return 1
    except Exception as exc:  # any crash (a module missing from a bundle, a broken plugin...) is a failure
        if sys.stderr is not None:
            traceback.print_exc()
        out(f"self-test FAILED: {torch_load_problem(exc) or f'{type(exc).__name__}: {exc}'}")
        return 1
    parts = [outcome.layers, outcome.agreement, outcome.speed]
    if outcome.qt:
        parts.append(outcome.qt)
    out(f"self-test OK: {', '.join(parts)}, {time.perf_counter() - start:.1f} s")
    return 0


def main() -> None:
    sys.exit(run())
