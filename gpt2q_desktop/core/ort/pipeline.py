"""Checkpoint → ONNX graphs → cache: the FP32 and INT8 models of the ONNX Runtime path, from the cache when possible.

Both graphs are cache entries under the checkpoint's content key plus the recipe options, the graphs' format
(``ONNX_GRAPH_FORMAT``) and the torch, onnx and onnxruntime versions, written atomically like the torch recipe's.
What is missing is built in a child process (:mod:`onnx_build`) into a work folder, then stored; a cache that
cannot be written leaves the work folder in use for the session, with a note. A cache hit skips the build.
"""

from __future__ import annotations

import importlib
import importlib.metadata
import logging
import os
import shutil
import tempfile
import time
from pathlib import Path
from typing import Any

from gpt2q_desktop.core.checkpoints.checkpoint import CheckpointInfo, gpt2_config
from gpt2q_desktop.core.errors import CacheError
from gpt2q_desktop.core.options import RecipeOptions
from gpt2q_desktop.core.ort.build import BuildJob, run_build
from gpt2q_desktop.core.ort.model import OrtCausalLM
from gpt2q_desktop.core.ort.recipe import NAME
from gpt2q_desktop.core.progress import CancelFn, ProgressFn
from gpt2q_desktop.core.results import QuantizeReport
from gpt2q_desktop.core.runtimes import Runtime
from gpt2q_desktop.core.store.manifest import ONNX_GRAPH_FORMAT, ONNX_PAYLOAD
from gpt2q_desktop.core.store.model_cache import QuantCache

log = logging.getLogger("gpt2q")
FP32_RECIPE = "onnx-export-fp32"


def versions() -> dict[str, str]:
    """The onnx and onnxruntime versions (part of the cache key: their output is what is stored).

    onnx's is read from its installed metadata: this process only runs graphs (onnxruntime) and never needs onnx
    itself, whose import holds the interpreter lock for about a second (the child that builds graphs imports it).
    """
    import onnxruntime

    return {"onnx": _installed_version("onnx"), "onnxruntime": onnxruntime.__version__}


def _installed_version(name: str) -> str:
    """The version of the installed distribution *name*, from its metadata (imported only if that is missing)."""
    try:
        return importlib.metadata.version(name)
    except importlib.metadata.PackageNotFoundError:
        return str(importlib.import_module(name).__version__)


def _cached(
    cache: QuantCache, key: str, config: Any, notes: list[str], checked: dict[Path, OrtCausalLM]
) -> tuple[dict[str, Any], Path] | None:
    """The verified manifest and graph of entry *key*, or None; the graph is loaded and run on one token now (its
    model kept in *checked*), so an unusable entry, whatever ONNX Runtime raises on it, is noted and deleted."""

    def load() -> tuple[dict[str, Any], Path]:
        manifest, path = cache.payload(key)
        model = OrtCausalLM(path, config)
        model.check()
        checked[path] = model
        return manifest, path

    return cache.take(key, "ONNX model", load, notes, "ONNX Runtime cannot run it")


def _work_dir(cache: QuantCache) -> tempfile.TemporaryDirectory[str]:
    """A private folder for the child's files: inside the cache root (the same disk, so storing is a link) if
    it can be made there, else in the system's temporary folder. A file Windows will not delete yet (an antivirus
    scanning it) does not fail the run: the cache's sweep removes the folder later."""
    try:
        cache.root.mkdir(parents=True, exist_ok=True)
        prefix = f".tmp-{os.getpid()}-onnx-"
        return tempfile.TemporaryDirectory(dir=cache.root, prefix=prefix, ignore_cleanup_errors=True)
    except OSError:
        return tempfile.TemporaryDirectory(prefix="gpt2q-onnx-", ignore_cleanup_errors=True)


def _link_or_copy(src: Path, dst: Path) -> None:
    try:
        os.link(src, dst)
    except OSError:
        shutil.copyfile(src, dst)


def _store(cache: QuantCache, key: str, manifest: dict[str, Any], built: Path, notes: list[str]) -> Path:
    """Store the graph *built* as entry *key*; the entry's graph, or *built* itself when the cache cannot take it."""
    try:
        entry = cache.store_file(key, manifest, lambda path: _link_or_copy(built, path), ONNX_PAYLOAD)
    except CacheError as exc:
        notes.append(str(exc))
        return built
    return entry.path / ONNX_PAYLOAD


def _manifest(info: CheckpointInfo, graph: str, options: dict[str, Any], **fields: Any) -> dict[str, Any]:
    import torch

    return {
        "backend": NAME if graph == "int8" else FP32_RECIPE,
        "runtime": Runtime.ONNXRUNTIME,
        "graph": graph,
        "graph_format": ONNX_GRAPH_FORMAT,
        "options": options,
        "source": {"name": info.name, "path": str(info.path), "weight_format": info.weight_format},
        "config": info.config,
        "torch": torch.__version__,
        "versions": versions(),
        **fields,
    }


def _report(
    fp32: Path, int8: tuple[dict[str, Any], Path], int8_key: str, options: RecipeOptions, notes: list[str],
    start: float, cache_dir: str, hit: bool,
) -> QuantizeReport:  # fmt: skip
    """The INT8 graph's report: its counts from its manifest, its size beside the FP32 graph's."""
    counts = int8[0]["counts"]
    return QuantizeReport(
        layers_quantized=counts["layers_quantized"],
        layers_eligible=counts["layers_eligible"],
        embeddings_int8=counts["embeddings_int8"],
        fp32_bytes=fp32.stat().st_size,
        int8_bytes=int8[1].stat().st_size,
        seconds=time.perf_counter() - start,
        quantize_seconds=float(int8[0]["quantize_seconds"]),
        cache_hit=hit,
        cache_dir=cache_dir,
        cache_key=int8_key,
        recipe=NAME,
        options=options.as_dict(),
        notes=notes,
        runtime=Runtime.ONNXRUNTIME,
    )


def onnx_models(
    info: CheckpointInfo, options: RecipeOptions, cache: QuantCache,
    progress: ProgressFn | None = None, cancelled: CancelFn | None = None,
) -> tuple[OrtCausalLM, OrtCausalLM, QuantizeReport]:  # fmt: skip
    """The FP32 and INT8 ONNX Runtime models of *info* under *options*, and the INT8 report."""
    start = time.perf_counter()
    config, lib = gpt2_config(info), {**versions(), "graph_format": str(ONNX_GRAPH_FORMAT)}
    fp32_key = cache.key_for(info, {}, FP32_RECIPE, lib)
    int8_key = cache.key_for(info, options.as_dict(), NAME, lib)
    notes: list[str] = []
    checked: dict[Path, OrtCausalLM] = {}
    fp32 = _cached(cache, fp32_key, config, notes, checked)
    int8 = _cached(cache, int8_key, config, notes, checked)
    work = None
    if fp32 is not None and int8 is not None:
        log.info("Cache hit: ONNX Runtime graphs %s (FP32) and %s (INT8)", fp32_key, int8_key)
    else:
        missing = [graph for graph, found in (("FP32", fp32), ("INT8", int8)) if found is None]
        graphs = "graph" if len(missing) == 1 else "graphs"
        log.info("Cache miss: tracing the %s ONNX %s of %s", " and ".join(missing), graphs, info.name)
        work = _work_dir(cache)
        folder = Path(work.name)
        job = BuildJob(
            info, fp32[1] if fp32 else folder / "fp32.onnx", fp32 is None,
            folder / "int8.onnx" if int8 is None else None, options,
        )  # fmt: skip
        try:
            built = run_build(job, progress, cancelled)
        except BaseException:  # now, not when the exception (kept by a log record, say) is freed
            work.cleanup()
            raise
        seconds = time.perf_counter() - start
        log.info("ONNX graphs of %s built in %.1f s", info.name, seconds)
        if fp32 is None:
            manifest = _manifest(info, "fp32", {}, fp32_bytes=job.fp32_path.stat().st_size, quantize_seconds=seconds)
            fp32 = (manifest, _store(cache, fp32_key, manifest, job.fp32_path, notes))
        if int8 is None and job.int8_path is not None:
            manifest = _manifest(
                info, "int8", options.as_dict(), counts=built["counts"], fp32_bytes=fp32[1].stat().st_size,
                quantize_seconds=seconds,
            )  # fmt: skip
            int8 = (manifest, _store(cache, int8_key, manifest, job.int8_path, notes))
    assert fp32 is not None and int8 is not None
    fp32_model, int8_model = (checked.get(g[1]) or OrtCausalLM(g[1], config) for g in (fp32, int8))
    unstored = [g for g in (fp32[1], int8[1]) if work is not None and Path(work.name) in g.parents]
    if unstored:  # a graph the cache could not take lives in the work folder: keep it while the models live
        fp32_model.keep_alive = int8_model.keep_alive = work
    elif work is not None:
        work.cleanup()
    cache_dir = "" if int8[1] in unstored else str(int8[1].parent)
    report = _report(fp32[1], int8, int8_key, options, notes, start, cache_dir, hit=work is None)
    return fp32_model, int8_model, report
