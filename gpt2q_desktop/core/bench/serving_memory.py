"""Peak memory of a fresh process that serves one variant (FP32, or INT8 from the cache) for one token."""

from __future__ import annotations

import json
import subprocess
import sys
from pathlib import Path
from typing import Any

from gpt2q_desktop.core.options import RecipeOptions


def _rss_mb(field: str) -> float:
    """``VmRSS`` (now) or ``VmHWM`` (peak) of this process in MB; off Linux, the lifetime peak (0 where the
    platform, Windows, has no ``resource`` module)."""
    try:
        for line in Path("/proc/self/status").read_text().splitlines():
            if line.startswith(f"{field}:"):
                return int(line.split()[1]) / 1024
    except OSError:
        pass
    try:
        import resource
    except ImportError:
        return 0.0
    peak = resource.getrusage(resource.RUSAGE_SELF).ru_maxrss
    return peak / 2**20 if sys.platform == "darwin" else peak / 1024


def memory_probe(folder: str, options: dict[str, Any] | None, data_dir: str, threads: int) -> None:
    """Run in a fresh process: load one variant (FP32, or INT8 from the cache), predict one token, print
    ``{"base_mb", "peak_mb"}`` as JSON: resident memory after the imports, and the peak after the token."""
    import torch
    import torch.ao.nn.quantized.dynamic  # code, not model: part of the base
    from transformers import GPT2LMHeadModel  # noqa: F401

    from gpt2q_desktop.core.session import Session
    from gpt2q_desktop.core.store.model_cache import QuantCache

    torch.set_num_threads(threads)
    session = Session(QuantCache(Path(data_dir)))
    session.open(folder)
    base = _rss_mb("VmRSS")
    if options is None:
        model = session.fp32
    else:
        if not session.quantize(RecipeOptions.from_dict(options)).cache_hit:
            raise RuntimeError("the INT8 model was not in the cache")
        model = session.int8_model
    with torch.inference_mode():
        model(input_ids=torch.zeros((1, 8), dtype=torch.long), logits_to_keep=1, use_cache=False)
    print(json.dumps({"base_mb": base, "peak_mb": _rss_mb("VmHWM")}))


def serving_memory_mb(
    folder: Path, options: RecipeOptions | None, data_dir: Path, threads: int
) -> tuple[float, float] | None:
    """Peak resident memory (MB) of a fresh process that loads one variant and predicts a token, and how
    much of it the model added to the bare process (imports included in the first, not the second).
    None in a frozen executable, which cannot start a plain Python."""
    if getattr(sys, "frozen", False):
        return None
    args = [str(folder), None if options is None else options.as_dict(), str(data_dir), threads]
    code = f"from gpt2q_desktop.core.bench.serving_memory import memory_probe; memory_probe(*{args!r})"
    proc = subprocess.run([sys.executable, "-c", code], capture_output=True, text=True, check=False, timeout=600)
    if proc.returncode != 0:
        last = (proc.stderr.strip().splitlines() or ["no output"])[-1]
        raise RuntimeError(f"the memory probe failed: {last}")
    figures = json.loads(proc.stdout.strip().splitlines()[-1])
    return figures["peak_mb"], figures["peak_mb"] - figures["base_mb"]
