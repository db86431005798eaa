"""``gpt2q-desktop --self-test``: prove, headless, that this install (or frozen bundle) really works.

It loads the bundled demo student (or ``--checkpoint DIR``), quantizes it to INT8 into a throw-away data
directory, reloads the INT8 model from that cache, compares FP32 with INT8 on a few prompts and paints a
Qt widget (the app's icon included) offscreen. One verdict line goes to stdout::

    self-test OK: 17/17 layers INT8, 5/5 prompts agree, INT8 1.9x faster, Qt painted, 4.2 s
    self-test FAILED: <reason>

and the exit code is 0 only when every step worked: every eligible linear is INT8, the cache round
trip gives the same model, both models answered every prompt with a finite distribution, top-1
agreement reached the floor (default 80 % of the prompts) and Qt rendered the widget and the icon.
Details go to stderr. Nothing is written outside the temporary directory.
"""

from __future__ import annotations

import argparse
import contextlib
import math
import os
import sys
import tempfile
import time
import traceback
from collections.abc import Iterator, Sequence
from dataclasses import dataclass, field
from pathlib import Path
from typing import TYPE_CHECKING, Any

if TYPE_CHECKING:
    from gpt2q_desktop.core.options import RecipeOptions
    from gpt2q_desktop.core.session import Session

DEFAULT_PROMPTS = (
    "It is a truth universally acknowledged, that a single man in possession of a good fortune, must be in want of a",
    "Elizabeth could not help",
    "She was the youngest of the two daughters of a most affectionate, indulgent",
    "I am sure I shall",
    "Once upon a time there was a little girl who lived in a village near the",
)
DEFAULT_MIN_AGREEMENT = 0.8


class SelfTestFailure(Exception):
    """A check that did not pass; its message is the verdict's reason."""


@dataclass
class Outcome:
    """What the checks found, for the verdict line."""

    layers: str = ""
    agreement: str = ""
    speed: str = ""
    qt: str = ""
    details: list[str] = field(default_factory=list)


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


def _out(line: str) -> None:
    """The verdict on stdout (absent in a windowed Windows build: then nothing is printed)."""
    if sys.stdout is not None:
        print(line, flush=True)


def say(message: str) -> None:
    if sys.stderr is not None:
        print(f"self-test: {message}", file=sys.stderr, flush=True)


@contextlib.contextmanager
def _env(name: str, value: str) -> Iterator[None]:
    before = os.environ.get(name)
    os.environ[name] = value
    try:
        yield
    finally:
        if before is None:
            os.environ.pop(name, None)
        else:
            os.environ[name] = before


# -- core -------------------------------------------------------------------------------------------
def _finite_answer(side: Any) -> bool:
    return bool(side.top) and all(math.isfinite(t.prob) and 0.0 <= t.prob <= 1.0 for t in side.top) and 0.0 < side.prob


def check_core(checkpoint: Path, prompts: Sequence[str], min_agreement: float, outcome: Outcome) -> None:
    """Load, quantize into a temporary data dir, reload from the cache, compare the prompts."""
    from gpt2q_desktop.core.options import RecipeOptions
    from gpt2q_desktop.core.paths import ENV_DATA_DIR
    from gpt2q_desktop.core.session import Session
    from gpt2q_desktop.core.store.model_cache import QuantCache

    if not (checkpoint / "config.json").is_file():
        raise SelfTestFailure(f"no checkpoint at {checkpoint} (config.json missing)")
    with tempfile.TemporaryDirectory(prefix="gpt2q-selftest-") as tmp, _env(ENV_DATA_DIR, tmp):
        say(f"loading {checkpoint}")
        session = Session(QuantCache(Path(tmp)))
        say(session.open(checkpoint, require_tokenizer=True).summary())
        session.encode(prompts)
        options = RecipeOptions()
        _check_cache_round_trip(session, options, prompts[0], outcome)
        _check_answers(session, options, prompts, min_agreement, outcome)
        _check_onnxruntime(session, options, prompts[0])


def _check_cache_round_trip(session: Session, options: RecipeOptions, prompt: str, outcome: Outcome) -> None:
    """Every eligible layer INT8, written to the cache, found again, and the same model once reloaded."""
    from gpt2q_desktop.core.measure.inference import last_logits

    report = session.quantize(options)
    int8 = session.int8_model
    say(f"INT8: {report.summary()}")
    for note in report.notes:
        say(f"note: {note}")
    outcome.layers = f"{report.layers_quantized}/{report.layers_eligible} layers INT8"
    if report.layers_quantized != report.layers_eligible:
        raise SelfTestFailure(f"only {outcome.layers}")
    if report.cache_hit or not report.cache_dir or not Path(report.cache_dir).is_dir():
        raise SelfTestFailure("the INT8 model was not written to the (temporary) cache")
    again = session.quantize(options)
    if not again.cache_hit:
        raise SelfTestFailure("the INT8 model just cached was not found again: " + "; ".join(again.notes))
    if again.layers_quantized != report.layers_quantized:
        raise SelfTestFailure(
            f"the cached INT8 model has {again.layers_quantized} INT8 layers, the fresh one {report.layers_quantized}"
        )
    ids = session.encode([prompt])[0].ids
    diff = float((last_logits(int8, ids) - last_logits(session.int8_model, ids)).abs().max())
    if not diff <= 1e-3:
        raise SelfTestFailure(f"the INT8 model reloaded from the cache differs from the fresh one (max |Δlogit| {diff:.3g})")
    say(f"cache round trip OK ({again.seconds:.2f} s, max |Δlogit| {diff:.1e})")


def _check_answers(session: Session, options: RecipeOptions, prompts: Sequence[str], min_agreement: float, outcome: Outcome) -> None:
    """Both models answer every prompt with a finite distribution, in measurable time, and agree enough."""
    from gpt2q_desktop.core.measure.metrics import percentile
    from gpt2q_desktop.core.options import RunSettings

    settings = RunSettings(repeats=3, warmup=1, threads=1, top_k=5)
    rows = []
    for i, row in enumerate(session.compare(prompts, options, settings), 1):
        text = row.prompt
        if not (_finite_answer(row.fp32) and _finite_answer(row.int8)):
            raise SelfTestFailure(f"a model gave no valid answer to prompt {i} ({text[:40]!r})")
        if not (row.fp32.timing.median_ms > 0 and row.int8.timing.median_ms > 0):
            raise SelfTestFailure(f"prompt {i} was not timed")
        say(
            f"[{i}/{len(prompts)}] {text[-40:]!r}: FP32 {row.fp32.token!r} {row.fp32.prob:.3f} "
            f"{row.fp32.timing.median_ms:.1f} ms | INT8 {row.int8.token!r} {row.int8.prob:.3f} "
            f"{row.int8.timing.median_ms:.1f} ms | {'agree' if row.agree else 'DIFFER'}, KL {row.kl:.2e}"
        )
        rows.append(row)
    agree = sum(r.agree for r in rows)
    outcome.agreement = f"{agree}/{len(rows)} prompts agree"
    if agree < min_agreement * len(rows) - 1e-9:
        raise SelfTestFailure(f"{outcome.agreement}, below the floor of {min_agreement:.0%}")
    ratio = percentile([r.fp32.timing.median_ms for r in rows], 50) / percentile([r.int8.timing.median_ms for r in rows], 50)
    outcome.speed = f"INT8 {ratio:.1f}x faster" if ratio >= 1 else f"INT8 {1 / ratio:.1f}x slower"


def _check_onnxruntime(session: Session, options: RecipeOptions, prompt: str) -> None:
    """The ONNX Runtime path: export and quantize in a child process, every eligible layer INT8, one comparison
    whose FP32 answer is torch FP32's."""
    from gpt2q_desktop.core.options import RunSettings
    from gpt2q_desktop.core.runtimes import Runtime

    report = session.quantize(options, None, None, Runtime.ONNXRUNTIME)
    say(f"INT8: {report.summary()}")
    if report.layers_quantized != report.layers_eligible:
        raise SelfTestFailure(f"ONNX Runtime: only {report.layers_quantized}/{report.layers_eligible} layers INT8")
    settings = RunSettings(repeats=3, warmup=1, threads=1, top_k=5)
    torch_row, ort_row = session.compare([prompt], options, settings, runtimes=tuple(Runtime))
    if not (_finite_answer(ort_row.fp32) and _finite_answer(ort_row.int8)):
        raise SelfTestFailure("ONNX Runtime gave no valid answer")
    if ort_row.fp32.token_id != torch_row.fp32.token_id:
        raise SelfTestFailure(f"ONNX Runtime FP32 predicts {ort_row.fp32.token!r}, torch FP32 {torch_row.fp32.token!r}")
    say(
        f"ONNX Runtime: FP32 {ort_row.fp32.token!r} {ort_row.fp32.timing.median_ms:.1f} ms | INT8 {ort_row.int8.token!r} "
        f"{ort_row.int8.timing.median_ms:.1f} ms | {'agree' if ort_row.agree else 'DIFFER'}, KL {ort_row.kl:.2e}"
    )


def run(argv: Sequence[str] | None = None) -> int:
    """Run the self-test; print one verdict line; return 0 if every check passed, else 1."""
    args, unknown = build_parser().parse_known_args(list(sys.argv[1:] if argv is None else argv))
    if unknown:
        say(f"ignoring arguments: {' '.join(unknown)}")
    if not 0.0 <= args.min_agreement <= 1.0:
        _out("self-test FAILED: --min-agreement must be between 0 and 1")
        return 1
    from gpt2q_desktop.core.paths import demo_student_dir

    checkpoint = Path(args.checkpoint).expanduser() if args.checkpoint else demo_student_dir()
    prompts = [p for p in (args.prompt or DEFAULT_PROMPTS) if p.strip()]
    if not prompts:
        _out("self-test FAILED: no prompts")
        return 1
    start = time.perf_counter()
    outcome = Outcome()
    try:
        if not args.no_qt:
            from .selftest_qt import check_qt

            outcome.qt = check_qt()
            say(outcome.qt)
        check_core(checkpoint, prompts, args.min_agreement, outcome)
    except SelfTestFailure as exc:
        _out(f"self-test FAILED: {exc}")
        return 1
    except KeyboardInterrupt:
        _out("self-test FAILED: interrupted")
        return 1
    except Exception as exc:  # any crash (a module missing from a bundle, a broken plugin...) is a failure
        if sys.stderr is not None:
            traceback.print_exc()
        _out(f"self-test FAILED: {type(exc).__name__}: {exc}")
        return 1
    parts = [outcome.layers, outcome.agreement, outcome.speed]
    if outcome.qt:
        parts.append(outcome.qt)
    _out(f"self-test OK: {', '.join(parts)}, {time.perf_counter() - start:.1f} s")
    return 0


def main() -> None:
    sys.exit(run())


if __name__ == "__main__":
    main()
