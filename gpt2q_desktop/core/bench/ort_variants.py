"""The ONNX Runtime variants of ``gpt2q bench``: the session's FP32 and INT8 graphs (cached like the torch
recipe's) on a prompt and on a decode step with their KV cache, the plain recipe's INT8 graph (:mod:`bench.plain`)
beside them, their timed calls, and a check of their top-1 against torch.

The decode steps start from torch FP32's past (the time of a step does not depend on the past's values).
Every ONNX Runtime call is followed by a pause of ``settle_s`` before the next timed call (any variant's), so the
runtime's spinning threads do not slow it.
"""

from __future__ import annotations

import copy
import time
from collections.abc import Callable
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import numpy as np
import torch
from torch import nn

from gpt2q_desktop.core.bench.plain import PlainInt8, build_plain_int8
from gpt2q_desktop.core.measure.inference import kv_step, torch_threads
from gpt2q_desktop.core.options import RecipeOptions
from gpt2q_desktop.core.results import QuantizeReport
from gpt2q_desktop.core.runtimes import Runtime
from gpt2q_desktop.core.session import Session

PROMPT_VARIANTS = ("ort_fp32", "ort_int8", "ort_int8_per_channel", "ort_int8_plain")
DECODE_VARIANTS = ("ort_fp32_decode", "ort_int8_decode", "ort_int8_plain_decode")
ORT_VARIANTS = PROMPT_VARIANTS + DECODE_VARIANTS
TORCH_TWIN = {
    "ort_fp32": "fp32_last", "ort_int8": "int8", "ort_int8_per_channel": "int8_per_channel", "ort_int8_plain": "int8",
    "ort_fp32_decode": "fp32_decode", "ort_int8_decode": "int8_decode", "ort_int8_plain_decode": "int8_decode",
}  # fmt: skip
PLAIN_RIVALS = {
    "ort_int8_plain": ("int8", "int8_per_channel", "ort_int8", "ort_int8_per_channel"),
    "ort_int8_plain_decode": ("int8_decode", "ort_int8_decode"),
}
"""The tool's INT8 rows the plain recipe's rows are measured against (the fastest of them is named)."""
"""The torch row each ONNX Runtime row is the counterpart of (its speed ratio is against that row)."""
CHECK_PROMPTS = 8
"""Random prompts (and decode steps) on which each ONNX Runtime variant's top-1 is checked against torch FP32's."""
RECIPES = (("ort_int8", RecipeOptions()), ("ort_int8_per_channel", RecipeOptions(per_channel=True)))
"""The INT8 graphs, in the order they are built: the first build exports the FP32 graph too."""
Maker = Callable[[], Callable[[], Any]]


@dataclass
class OrtVariants:
    """The ONNX Runtime models to time, keyed by variant, and what building and reloading them cost."""

    models: dict[str, Any]
    reports: dict[str, QuantizeReport]
    load_s: dict[str, float]
    sizes: dict[str, int]
    counts: dict[str, tuple[int, int]]
    """INT8 weight MatMuls and all weight MatMuls of each INT8 graph."""


def ort_variants(session: Session, name: str, folder: Path, threads: int, log: Callable[[str], None]) -> OrtVariants:
    """The session's ONNX Runtime graphs of both INT8 recipes (built, then reloaded from the cache; the default
    recipe's and the FP32 graph also time a decode step) and the plain recipe's INT8 graph, written to *folder*."""
    models: dict[str, Any] = {}
    reports: dict[str, QuantizeReport] = {}
    load_s: dict[str, float] = {}
    with torch_threads(threads):
        for key, options in RECIPES:
            log(f"{name}: ONNX Runtime graphs ({options.describe()})")
            reports[key] = session.quantize(options, runtime=Runtime.ONNXRUNTIME)
            start = time.perf_counter()
            if not session.quantize(options, runtime=Runtime.ONNXRUNTIME).cache_hit:
                raise RuntimeError(f"the {key} graph was not reloaded from the cache")
            fp32, models[key] = session.pair(Runtime.ONNXRUNTIME, options)
            models[key].inference_session(threads)  # loaded means ready to run
            load_s[key] = time.perf_counter() - start
            models.setdefault("ort_fp32", fp32)
        log(f"{name}: the plain recipe (a plain export, quantize_dynamic)")
        start = time.perf_counter()
        models["ort_int8_plain"] = PlainInt8(build_plain_int8(session.fp32, folder), session.fp32.config)
        log(f"{name}: plain recipe built in {time.perf_counter() - start:.1f} s")
    for decode, prompt in zip(DECODE_VARIANTS, ("ort_fp32", "ort_int8", "ort_int8_plain"), strict=True):
        models[decode] = models[prompt]
    counts = {k: (r.layers_quantized, r.layers_eligible) for k, r in reports.items()}
    counts["ort_int8_decode"] = counts["ort_int8"]
    sizes = {k: m.file_bytes() for k, m in models.items()}
    return OrtVariants(models, reports, load_s, sizes, counts)


def block_past(cache: Any) -> list[np.ndarray]:
    """The keys and values a transformers ``DynamicCache`` holds, as the graphs' past inputs (one pair a block)."""
    return [t.float().contiguous().numpy() for layer in cache.layers for t in (layer.keys, layer.values)]


def _step(model: Any, ids: np.ndarray, past: list[np.ndarray] | None) -> np.ndarray:
    """The last position's logits of *ids* after *past* (None: a prompt) on an ONNX Runtime graph."""
    logits, _ = model.run(ids, np.array([ids.shape[1] - 1]), past if past is not None else model.empty_past())
    return logits


def ort_calls(models: dict[str, Any], ids: torch.Tensor, past: Any) -> dict[str, Maker]:
    """For each ONNX Runtime variant, a maker of its timed call (a decode step reads a past and changes none)."""
    prompt, token, blocks = ids.numpy(), ids[:, -1:].numpy(), block_past(past)

    def call(model: Any, feed: np.ndarray, history: list[np.ndarray] | None) -> Maker:
        def run() -> np.ndarray:
            return _step(model, feed, history)

        return lambda: run

    makers = {k: call(models[k], prompt, None) for k in PROMPT_VARIANTS}
    makers.update({k: call(models[k], token, blocks) for k in DECODE_VARIANTS})
    return makers


def top1_checks(
    fp32: nn.Module, models: dict[str, Any], past: Any, vocab: int, n: int, gen: torch.Generator
) -> dict[str, dict[str, float]]:
    """For each ONNX Runtime variant: on how many of :data:`CHECK_PROMPTS` random *n*-token prompts (decode
    variants: tokens after *past*) its top-1 equals torch FP32's, and the largest logit difference. Run inside
    the bench's thread setting; it also makes every ONNX Runtime session before the timing."""
    found = {k: {"top1_agree": 0.0, "top1_of": float(CHECK_PROMPTS), "max_abs_diff": 0.0} for k in ORT_VARIANTS}
    blocks = block_past(past)

    def tally(variant: str, got: np.ndarray, want: torch.Tensor) -> None:
        logits = torch.from_numpy(got[0, -1])
        found[variant]["top1_agree"] += float(int(logits.argmax()) == int(want.argmax()))
        found[variant]["max_abs_diff"] = max(found[variant]["max_abs_diff"], float((logits - want).abs().max()))

    for _ in range(CHECK_PROMPTS):
        ids = torch.randint(0, vocab, (1, n), generator=gen)
        want = fp32(input_ids=ids, logits_to_keep=1, use_cache=False).logits[0, -1]
        for k in PROMPT_VARIANTS:
            tally(k, _step(models[k], ids.numpy(), None), want)
        token = torch.randint(0, vocab, (1, 1), generator=gen)
        want = kv_step(fp32, token, copy.deepcopy(past))
        for k in DECODE_VARIANTS:
            tally(k, _step(models[k], token.numpy(), blocks), want)
    time.sleep(models["ort_fp32"].settle_s)
    return found


def ort_extra(variant: str, ort: OrtVariants, checks: dict[str, float], med: dict[str, float]) -> dict[str, float]:
    """An ONNX Runtime row's figures: speed against its torch twin, top-1 check, INT8 build and reload."""
    extra = {"ratio_vs_torch": med[TORCH_TWIN[variant]] / med[variant], **checks}
    if variant in PLAIN_RIVALS:  # how much faster than the plain recipe the tool's fastest INT8 is
        rivals = [med[k] for k in PLAIN_RIVALS[variant]]
        extra["fastest_vs_plain"], extra["fastest_rival"] = med[variant] / min(rivals), float(rivals.index(min(rivals)))
    if variant in ort.reports:
        extra["quantize_s"] = ort.reports[variant].quantize_seconds
        extra["cache_load_s"] = ort.load_s[variant]
        extra["export_included"] = float(variant == RECIPES[0][0])
    if variant in ort.counts:
        extra["int8_matmuls"], extra["weight_matmuls"] = (float(c) for c in ort.counts[variant])
    return extra


def ort_notes(variant: str, extra: dict[str, float]) -> list[str]:
    """The notes column of an ONNX Runtime row."""
    twin = TORCH_TWIN[variant]
    notes = [] if twin == "fp32_decode" else [f"{extra['ratio_vs_torch']:.2f}× vs torch {twin}"]  # decode note has it
    if "quantize_s" in extra:
        what = "FP32 export + INT8" if extra["export_included"] else "INT8"
        notes.append(f"build {extra['quantize_s']:.1f}s ({what}), cache load {extra['cache_load_s']:.2f}s")
    if "int8_matmuls" in extra:
        notes.append(f"{extra['int8_matmuls']:.0f}/{extra['weight_matmuls']:.0f} weight MatMuls INT8")
    of = "steps" if variant.endswith("_decode") else "prompts"
    check = f"top-1 = torch FP32 on {extra['top1_agree']:.0f}/{extra['top1_of']:.0f} {of}"
    if variant.startswith("ort_fp32"):
        check += f" (max |Δlogit| {extra['max_abs_diff']:.1e})"
    notes.append(check)
    if "fastest_vs_plain" in extra:
        fastest = PLAIN_RIVALS[variant][int(extra["fastest_rival"])]
        notes.append(f"this tool's fastest INT8 ({fastest}) {extra['fastest_vs_plain']:.2f}× as fast as this")
    return notes
