"""The self-test's core checks: quantize into a throw-away data folder, reload from the cache, compare FP32 with
INT8 on PyTorch and ONNX Runtime."""

from __future__ import annotations

import contextlib
import math
import os
import tempfile
from collections.abc import Iterator, Sequence
from pathlib import Path
from typing import TYPE_CHECKING, Any

from .verdict import Outcome, SelfTestFailure, say

if TYPE_CHECKING:
    from gpt2q_desktop.core.options import RecipeOptions
    from gpt2q_desktop.core.session import Session


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
