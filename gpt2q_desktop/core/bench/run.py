"""``gpt2q bench``: honest speed and size figures for FP32 and INT8 variants of a GPT-2.

Models of real shapes (768 wide, 12 heads, 50,257 tokens) are built from a fixed seed, written as
checkpoint folders and quantized through the same session and cache as the app. All variants of a model
are timed in one process, interleaved call by call, so drift hits every variant alike; the ONNX Runtime variants
(:mod:`ort_variants`) in the same loop, each call followed by a pause that lets the runtime's threads rest.
"""

from __future__ import annotations

import copy
import io
import tempfile
import time
from collections.abc import Callable
from pathlib import Path
from typing import Any

import torch
from torch import nn

from gpt2q_desktop.core.bench.ort_variants import (
    ORT_VARIANTS,
    OrtVariants,
    ort_calls,
    ort_extra,
    ort_variants,
    top1_checks,
)
from gpt2q_desktop.core.bench.probes import streamed_bytes_per_token
from gpt2q_desktop.core.bench.serving_memory import serving_memory_mb
from gpt2q_desktop.core.bench.table import BenchRow
from gpt2q_desktop.core.checkpoints.checkpoint import CheckpointInfo
from gpt2q_desktop.core.checkpoints.synthetic import make_gpt2, save_checkpoint
from gpt2q_desktop.core.measure.inference import kv_step, new_kv_cache, torch_threads
from gpt2q_desktop.core.measure.metrics import percentile
from gpt2q_desktop.core.measure.noise import LoadWatch, noisy_each, usable_cores
from gpt2q_desktop.core.options import RecipeOptions
from gpt2q_desktop.core.quiet import quiet_torch
from gpt2q_desktop.core.results import QuantizeReport
from gpt2q_desktop.core.session import Session
from gpt2q_desktop.core.store.model_cache import QuantCache
from gpt2q_desktop.core.text import counted
from gpt2q_desktop.core.torch_int8.kernels import fitted, use_int8_kernels
from gpt2q_desktop.core.torch_int8.modules import unique_tensor_bytes

TORCH_VARIANTS = ("fp32_full", "fp32_last", "int8_seed", "int8", "int8_per_channel", "fp32_decode", "int8_decode")
VARIANTS = TORCH_VARIANTS + ORT_VARIANTS
DECODE_PAST = 32


def _seed_int8(fp32: nn.Module) -> tuple[nn.Module, int]:
    """The seed's recipe: ``quantize_dynamic`` on the unconverted model (only lm_head), and its file size."""
    from torch.ao.quantization import quantize_dynamic

    kernels = use_int8_kernels()
    with quiet_torch():
        model = quantize_dynamic(fp32, {nn.Linear}, dtype=torch.qint8)
        buf = io.BytesIO()
        torch.save(model.state_dict(), buf)
    return fitted(model, kernels), buf.tell()


def _calls(
    variants: dict[str, nn.Module], ids: torch.Tensor, past: dict[str, Any]
) -> dict[str, Callable[[], Callable[[], Any]]]:
    """For each variant, a maker of its timed call (made untimed: decode calls get a fresh past)."""

    def forward(model: nn.Module, keep: int) -> Callable[[], Callable[[], Any]]:
        call = lambda: model(input_ids=ids, logits_to_keep=keep, use_cache=False)
        return lambda: call

    def decode(model: nn.Module, cache: Any) -> Callable[[], Callable[[], Any]]:
        step = ids[:, -1:]

        def make() -> Callable[[], Any]:
            fresh = copy.deepcopy(cache)  # a decode step appends to its cache: never reuse one
            return lambda: kv_step(model, step, fresh)

        return make

    return {
        "fp32_full": forward(variants["fp32"], 0),
        "fp32_last": forward(variants["fp32"], 1),
        "int8_seed": forward(variants["int8_seed"], 1),
        "int8": forward(variants["int8"], 1),
        "int8_per_channel": forward(variants["int8_per_channel"], 1),
        "fp32_decode": decode(variants["fp32"], past["fp32"]),
        "int8_decode": decode(variants["int8_per_channel"], past["int8_per_channel"]),
    }


def time_interleaved_calls(
    makers: dict[str, Callable[[], Callable[[], Any]]],
    repeats: int,
    warmup: int,
    settle: dict[str, float] | None = None,
) -> dict[str, list[float]]:
    """Milliseconds per call for each variant, variants alternating every round; each maker prepares a call
    untimed (a fresh KV cache, a switch of INT8 kernels), then only the call itself is timed. After a call of
    a variant in *settle* (ONNX Runtime: its threads spin on), that many seconds pass before the next call."""
    pause = settle or {}
    samples: dict[str, list[float]] = {k: [] for k in makers}
    for _ in range(warmup):
        for name, make in makers.items():
            make()()
            time.sleep(pause.get(name, 0.0))
    for _ in range(repeats):
        for name, make in makers.items():
            call = make()
            start = time.perf_counter()
            call()
            samples[name].append((time.perf_counter() - start) * 1000.0)
            time.sleep(pause.get(name, 0.0))
    return samples


PER_TENSOR, PER_CHANNEL = RecipeOptions(), RecipeOptions(per_channel=True)


def _int8_variants(
    session: Session, name: str, threads: int, log: Callable[[str], None]
) -> tuple[dict[str, nn.Module], dict[str, QuantizeReport], dict[str, QuantizeReport], int]:
    """The models to time (FP32, both INT8 recipes reloaded from the cache, the seed recipe), the reports of
    quantizing each INT8 recipe, those of reloading it, and the seed recipe's file size."""
    models: dict[str, nn.Module] = {"fp32": session.fp32}
    reports: dict[str, QuantizeReport] = {}
    loads: dict[str, QuantizeReport] = {}
    with torch_threads(threads):
        for key, options in (("int8", PER_TENSOR), ("int8_per_channel", PER_CHANNEL)):
            log(f"{name}: quantizing ({options.describe()})")
            reports[key] = session.quantize(options)
            loads[key] = session.quantize(options)
            if not loads[key].cache_hit:
                raise RuntimeError(f"the {key} model was not reloaded from the cache: {loads[key].notes}")
            models[key] = session.int8_model
        models["int8_seed"], seed_bytes = _seed_int8(session.fp32)
    return models, reports, loads, seed_bytes


def _time_variants(
    models: dict[str, nn.Module], ort: OrtVariants, info: CheckpointInfo, n: int, gen: torch.Generator,
    threads: int, repeats: int, warmup: int,
) -> tuple[dict[str, list[float]], dict[str, dict[str, float]]]:  # fmt: skip
    """Milliseconds per call of every variant on an *n*-token prompt (decode steps after a past of DECODE_PAST),
    and the top-1 checks of the ONNX Runtime variants against torch FP32."""
    ids = torch.randint(0, info.vocab_size, (1, n), generator=gen)
    past_ids = torch.randint(0, info.vocab_size, (1, DECODE_PAST), generator=gen)
    with torch_threads(threads), torch.inference_mode():
        past = {k: new_kv_cache(models[k]) for k in ("fp32", "int8_per_channel")}
        for k, kv_cache in past.items():
            kv_step(models[k], past_ids, kv_cache)
        checks = top1_checks(models["fp32"], ort.models, past["fp32"], info.vocab_size, n, gen)
        makers = _calls(models, ids, past) | ort_calls(ort.models, ids, past["fp32"])
        settle = {k: m.settle_s for k, m in ort.models.items()}
        return time_interleaved_calls(makers, repeats, warmup, settle), checks


def _variant_extra(
    variant: str, figures: dict[str, Any], med: dict[str, float], checks: dict[str, Any]
) -> dict[str, Any]:
    """Quantize and cache-load seconds, serving memory, the ONNX Runtime figures and, for decode steps, streamed
    bytes and speedup."""
    extra: dict[str, Any] = {}
    key = _size_key(variant)
    report = figures["reports"].get(key)
    if report is not None:
        extra["quantize_s"] = report.quantize_seconds
        extra["cache_load_s"] = figures["loads"][key].seconds
    memory = figures["memory"].get(key)
    if isinstance(memory, tuple):
        extra["peak_rss_mb"], extra["model_rss_mb"] = memory
    elif memory:
        extra["serving_memory"] = memory  # why it was not measured
    if variant in ORT_VARIANTS:
        extra.update(ort_extra(variant, figures["ort"], checks[variant], med))
    if variant.endswith("_decode"):
        extra["streamed_mb"] = figures["streamed"]["fp32" if "fp32" in variant else "int8_per_channel"] / 1e6
        extra["ratio_vs_fp32_decode"] = med["fp32_decode"] / med[variant]
    return extra


def _size_key(variant: str) -> str:
    """Which model's file a variant's size is: the decode step of INT8 runs the per-channel model; an ONNX Runtime
    variant's is its own graph."""
    if variant in ORT_VARIANTS:
        return variant
    base = variant.removesuffix("_full").removesuffix("_last").removesuffix("_decode")
    return "fp32" if base == "fp32" else ("int8_per_channel" if variant == "int8_decode" else base)


def _prepare(
    session: Session, name: str, folder: Path, tmp: Path, threads: int, log: Callable[[str], None]
) -> tuple[dict[str, nn.Module], dict[str, Any], dict[str, int]]:
    """The torch models, the figures the rows report besides times (ONNX Runtime variants included under
    ``"ort"``), and each variant's file size."""
    info = session.info
    assert info is not None
    models, reports, loads, seed_bytes = _int8_variants(session, name, threads, log)
    (tmp / "plain").mkdir()
    ort = ort_variants(session, name, tmp / "plain", threads, log)
    log(f"{name}: peak memory of a fresh process serving each variant")
    memory = {
        key: serving_memory_mb(folder, options, tmp, threads)
        for key, options in (("fp32", None), ("int8", PER_TENSOR), ("int8_per_channel", PER_CHANNEL))
    }
    sizes = {"fp32": unique_tensor_bytes(models["fp32"]), "int8_seed": seed_bytes, **ort.sizes}  # FP32 in memory
    sizes.update({key: report.int8_bytes for key, report in reports.items()})
    streamed = {k: streamed_bytes_per_token(models[k]) for k in ("fp32", "int8_per_channel")}
    figures = {"reports": reports, "loads": loads, "memory": memory, "streamed": streamed, "ort": ort}
    return models, figures, sizes


def _rows(
    name: str, info: CheckpointInfo, n: int, samples: dict[str, list[float]], sizes: dict[str, int],
    figures: dict[str, Any], checks: dict[str, Any], noise: dict[str, tuple[str, ...]],
) -> list[BenchRow]:  # fmt: skip
    """One row per variant of one timing run on an *n*-token prompt, its noisy ones marked."""
    med = {k: percentile(v, 50) for k, v in samples.items()}
    return [
        BenchRow(
            model=name,
            layers=info.n_layer,
            prompt_tokens=1 if variant.endswith("_decode") else n,
            variant=variant,
            median_ms=med[variant],
            p90_ms=percentile(samples[variant], 90),
            bytes=sizes[_size_key(variant)],
            ratio_vs_fp32_full=med["fp32_full"] / med[variant],
            ratio_vs_fp32_last=med["fp32_last"] / med[variant],
            extra=_variant_extra(variant, figures, med, checks),
            noise="; ".join(noise.get(variant, ())),
            kernels=figures["reports"]["int8"].kernels if variant in TORCH_VARIANTS and "int8" in variant else None,
        )
        for variant in VARIANTS
    ]


def bench_model(
    name: str,
    folder: Path,
    prompt_tokens: list[int],
    threads: int,
    repeats: int,
    warmup: int,
    log: Callable[[str], None],
    retries: int = 0,
) -> list[BenchRow]:
    """All variants of the checkpoint in *folder*, at each prompt length; a timing run with a noisy variant is
    run again up to *retries* times (the last run is kept, its noisy rows marked)."""
    with tempfile.TemporaryDirectory(prefix="gpt2q-bench-") as tmp:
        session = Session(QuantCache(Path(tmp)))
        info = session.open(folder)
        models, figures, sizes = _prepare(session, name, folder, Path(tmp), threads, log)
        rows: list[BenchRow] = []
        gen = torch.Generator().manual_seed(1234)
        for tokens in prompt_tokens:
            n = min(tokens, info.n_positions - 1)
            for attempt in range(retries + 1):
                what = f"{len(VARIANTS)} variants × {repeats} repeats, {n}-token prompt, {counted(threads, 'thread')}"
                log(f"{name}: timing {what}")
                watch = LoadWatch().start()
                samples, checks = _time_variants(models, figures["ort"], info, n, gen, threads, repeats, warmup)
                noise = noisy_each(samples, watch.stop(), usable_cores() - threads)
                if not noise or attempt == retries:
                    break
                log(f"{name}: noisy timing ({'; '.join(sorted({r for rs in noise.values() for r in rs}))}), measuring again")
            rows += _rows(name, info, n, samples, sizes, figures, checks, noise)
        return rows


def run_bench(
    layers: list[int],
    prompt_tokens: list[int],
    threads: int,
    repeats: int,
    warmup: int,
    demo: Path | None,
    log: Callable[[str], None] = lambda s: None,
    retries: int = 0,
) -> list[BenchRow]:
    """Build each synthetic GPT-2 (and the demo student, if given) and bench every variant (a noisy timing run
    measured again up to *retries* times)."""
    rows: list[BenchRow] = []
    with tempfile.TemporaryDirectory(prefix="gpt2q-bench-models-") as tmp:
        for n_layer in layers:
            log(f"building a {n_layer}-layer GPT-2 (768 wide, seed 0)")
            folder = save_checkpoint(make_gpt2(n_layer), Path(tmp) / f"gpt2-{n_layer}l", tokenizer=False)
            rows += bench_model(f"gpt2-{n_layer}l", folder, prompt_tokens, threads, repeats, warmup, log, retries)
            for f in folder.iterdir():
                f.unlink()
    if demo is not None:
        rows += bench_model("demo-student", demo, prompt_tokens, threads, repeats, warmup, log, retries)
    return rows
