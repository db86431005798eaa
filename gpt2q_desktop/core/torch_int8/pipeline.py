"""Checkpoint → recipe → cache: produce the INT8 model of a checkpoint, from the cache when possible."""

from __future__ import annotations

import logging
import time
from collections.abc import Callable
from typing import Any

import torch
from torch import nn

from gpt2q_desktop.core.checkpoints.checkpoint import CheckpointInfo, gpt2_config
from gpt2q_desktop.core.errors import CacheError
from gpt2q_desktop.core.options import RecipeOptions
from gpt2q_desktop.core.progress import CancelFn, ProgressFn
from gpt2q_desktop.core.results import QuantizeReport
from gpt2q_desktop.core.runtimes import Kernels
from gpt2q_desktop.core.store.model_cache import QuantCache
from gpt2q_desktop.core.torch_int8.kernels import use_int8_kernels
from gpt2q_desktop.core.torch_int8.modules import (
    count_eligible,
    count_int8_embeddings,
    count_quantized,
    unique_tensor_bytes,
)
from gpt2q_desktop.core.torch_int8.recipe import DynamicInt8Recipe, Flattened, QuantizationRecipe, timed_quantize

log = logging.getLogger("gpt2q")
DEFAULT_RECIPE: QuantizationRecipe = DynamicInt8Recipe()


def _report(qmodel: nn.Module, n_layer: int, recipe: QuantizationRecipe, options: RecipeOptions, **figures: Any) -> QuantizeReport:
    """The report of *qmodel*: its layers counted from the model itself, the rest from *figures*."""
    return QuantizeReport(
        layers_quantized=count_quantized(qmodel),
        layers_eligible=count_eligible(n_layer),
        embeddings_int8=count_int8_embeddings(qmodel),
        recipe=recipe.name,
        options=options.as_dict(),
        **figures,
    )


def _from_cache(
    cache: QuantCache, key: str, config: Any, recipe: QuantizationRecipe, options: RecipeOptions, notes: list[str],
    kernels: Kernels,
) -> tuple[nn.Module, QuantizeReport] | None:  # fmt: skip
    """The cached INT8 model under *key*, or None; an unusable entry is noted in *notes* (naming it once) and deleted.

    The cache has checked the manifest's every field and the weights' checksum; tensors or a layout the recipe
    cannot rebuild the whole model from (a missing or mis-shaped tensor, anything it raises) are just as unusable."""
    start = time.perf_counter()

    def load() -> tuple[dict[str, Any], nn.Module]:
        manifest, tensors = cache.load_tensors(key)
        return manifest, recipe.rebuild(config, Flattened(tensors, manifest["layout"]))

    loaded = cache.take(key, "INT8 model", load, notes, "the model cannot be rebuilt from it")
    if loaded is None:
        return None
    manifest, qmodel = loaded
    return qmodel, _report(
        qmodel, config.n_layer, recipe, options,
        fp32_bytes=int(manifest["fp32_bytes"]),
        int8_bytes=int(manifest["weights_bytes"]),
        seconds=time.perf_counter() - start,
        quantize_seconds=float(manifest["quantize_seconds"]),
        cache_hit=True, cache_dir=str(cache.entry_path(key)), cache_key=key, notes=notes, kernels=kernels,
    )  # fmt: skip


def quantize_checkpoint(
    info: CheckpointInfo,
    options: RecipeOptions,
    load_fp32: Callable[[], nn.Module],
    cache: QuantCache,
    recipe: QuantizationRecipe = DEFAULT_RECIPE,
    progress: ProgressFn | None = None,
    cancelled: CancelFn | None = None,
) -> tuple[nn.Module, QuantizeReport]:
    """The INT8 model of *info*: loaded from *cache* if a sound entry exists, else quantized and stored.

    *load_fp32* is called only when the recipe has to run. A corrupt entry is reported in the notes,
    deleted and rebuilt; a cache that cannot be written leaves the in-memory model usable.
    """
    kernels = use_int8_kernels(recipe.kernels)  # an unavailable choice is refused before any work
    config = gpt2_config(info)
    key = cache.key_for(info, options.as_dict(), recipe.name, kernels=kernels)
    notes: list[str] = []
    cached = _from_cache(cache, key, config, recipe, options, notes, kernels)
    if cached is not None:
        log.info("Cache hit: INT8 model loaded from %s", cached[1].cache_dir)
        return cached
    log.info("Cache miss: quantizing %s with %s on %s INT8 kernels", info.name, recipe.name, kernels)
    fp32 = load_fp32()
    qmodel, seconds = timed_quantize(recipe, fp32, options, progress, cancelled)
    flattened = recipe.flatten(qmodel)
    fp32_bytes = unique_tensor_bytes(fp32)
    int8_bytes = sum(t.numel() * t.element_size() for t in flattened.tensors.values())
    cache_dir = ""
    manifest = {
        "backend": recipe.name,
        "kernels": kernels.value,
        "options": options.as_dict(),
        "layout": flattened.layout,
        "source": {"name": info.name, "path": str(info.path), "weight_format": info.weight_format},
        "config": info.config,
        "fp32_bytes": fp32_bytes,
        "quantize_seconds": seconds,
        "torch": torch.__version__,
    }
    try:
        entry = cache.store(key, flattened.tensors, manifest)
        int8_bytes, cache_dir = int(entry.manifest["weights_bytes"]), str(entry.path)
    except CacheError as exc:
        notes.append(str(exc))
    return qmodel, _report(
        qmodel, config.n_layer, recipe, options,
        fp32_bytes=fp32_bytes, int8_bytes=int8_bytes, seconds=seconds, quantize_seconds=seconds,
        cache_hit=False, cache_dir=cache_dir, cache_key=key, notes=notes, kernels=kernels,
    )  # fmt: skip
