"""Peak memory of a fresh process that serves one variant (FP32, or INT8 from the cache) for one token."""

from __future__ import annotations

import ctypes
import json
import subprocess
import sys
from pathlib import Path
from typing import Any

from gpt2q_desktop.core.options import RecipeOptions
from gpt2q_desktop.core.platforms import not_measured


class _MemoryCounters(ctypes.Structure):
    """Windows' ``PROCESS_MEMORY_COUNTERS``."""

    _fields_ = [("cb", ctypes.c_ulong), ("PageFaultCount", ctypes.c_ulong)] + [
        (name, ctypes.c_size_t)
        for name in (
            "PeakWorkingSetSize", "WorkingSetSize", "QuotaPeakPagedPoolUsage", "QuotaPagedPoolUsage",
            "QuotaPeakNonPagedPoolUsage", "QuotaNonPagedPoolUsage", "PagefileUsage", "PeakPagefileUsage",
        )
    ]  # fmt: skip


def _windows_rss_mb(peak: bool, kernel32: Any) -> float | None:
    """This process's working set now, or its peak, in MB, as *kernel32* (Windows' library, or a stand-in) says."""
    counters = _MemoryCounters()
    counters.cb = ctypes.sizeof(counters)
    if not kernel32.K32GetProcessMemoryInfo(kernel32.GetCurrentProcess(), ctypes.byref(counters), counters.cb):
        return None
    return (counters.PeakWorkingSetSize if peak else counters.WorkingSetSize) / 2**20


def _kernel32() -> Any:
    kernel32 = ctypes.WinDLL("kernel32")  # type: ignore[attr-defined]
    kernel32.GetCurrentProcess.restype = ctypes.c_void_p
    kernel32.K32GetProcessMemoryInfo.argtypes = (ctypes.c_void_p, ctypes.POINTER(_MemoryCounters), ctypes.c_ulong)
    return kernel32


def _rss_mb(field: str) -> float | None:
    """``VmRSS`` (now) or ``VmHWM`` (peak) of this process in MB: Windows' working set (now or peak), Linux's
    ``/proc``; elsewhere (macOS) the peak so far for both; None where the platform does not say."""
    if sys.platform == "win32":
        return _windows_rss_mb(field == "VmHWM", _kernel32())
    try:
        for line in Path("/proc/self/status").read_text().splitlines():
            if line.startswith(f"{field}:"):
                return int(line.split()[1]) / 1024
    except OSError:
        pass
    try:
        import resource
    except ImportError:
        return None
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
) -> tuple[float, float] | str:
    """Peak resident memory (MB) of a fresh process that loads one variant and predicts a token, and how
    much of it the model added to the bare process (imports included in the first, not the second); or why it
    was not measured (a frozen executable cannot start a plain Python; a platform may not say)."""
    if getattr(sys, "frozen", False):
        return "not measured in the bundled app"
    args = [str(folder), None if options is None else options.as_dict(), str(data_dir), threads]
    code = f"from gpt2q_desktop.core.bench.serving_memory import memory_probe; memory_probe(*{args!r})"
    proc = subprocess.run([sys.executable, "-c", code], capture_output=True, text=True, check=False, timeout=600)
    if proc.returncode != 0:
        last = (proc.stderr.strip().splitlines() or ["no output"])[-1]
        raise RuntimeError(f"the memory probe failed: {last}")
    figures = json.loads(proc.stdout.strip().splitlines()[-1])
    if figures["peak_mb"] is None or figures["base_mb"] is None:
        return not_measured()
    return figures["peak_mb"], figures["peak_mb"] - figures["base_mb"]
