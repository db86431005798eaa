"""How long ONNX Runtime's intra-op threads keep spinning after a run, and what that does to the next call.

    .venv/bin/python tools/ort_spin.py [--layers 12] [--threads 2] [--runs 30] [--work DIR]

Builds the GPT-2 of real shape (random init, fixed seed), its ONNX Runtime INT8 graph (per tensor) and the torch
INT8 model (per channel) in a temporary folder (or in ``--work``, kept for the next run). Then:

1. after each of *runs* ONNX Runtime calls (8-token prompt), samples the process's CPU time in 5 ms windows of
   idle and reports the CPU used per window and when it drops to about zero (the spin-down time);
2. times a torch INT8 call right after an ONNX Runtime call, with pauses of 0, 20, 40, 60 and 80 ms between the
   two, and after a torch call (no ONNX Runtime) for reference, in interleaved rounds.

The spin-down time is what ``ort_model.SETTLE_S`` must cover. Run it on an idle machine.
"""

from __future__ import annotations

import argparse
import os
import tempfile
import time
from pathlib import Path
from typing import Any

import onnxruntime
import torch

from gpt2q_desktop.core.checkpoints.synthetic import make_gpt2, save_checkpoint
from gpt2q_desktop.core.measure.metrics import percentile
from gpt2q_desktop.core.options import RecipeOptions
from gpt2q_desktop.core.runtimes import Runtime
from gpt2q_desktop.core.session import Session
from gpt2q_desktop.core.store.model_cache import QuantCache

WINDOW_S = 0.005
IDLE_WINDOWS = 40
BUSY = 0.1
"""A window counts as spinning when the process used more than this share of one core in it."""
PAUSES_MS = (0, 20, 40, 60, 80)


def cpu_after(call: Any) -> list[float]:
    """CPU milliseconds the process uses in each 5 ms window of idle right after *call* returns."""
    call()
    start, used = time.perf_counter(), []
    before = time.process_time()
    for w in range(1, IDLE_WINDOWS + 1):
        time.sleep(max(0.0, start + w * WINDOW_S - time.perf_counter()))
        now = time.process_time()
        used.append((now - before) * 1000.0)
        before = now
    return used


def spin_down_ms(windows: list[float]) -> float:
    """The end of the last window in which the process was busy (0: never)."""
    busy = [i for i, ms in enumerate(windows) if ms > BUSY * WINDOW_S * 1000.0]
    return (busy[-1] + 1) * WINDOW_S * 1000.0 if busy else 0.0


def measure_spin(ort_call: Any, runs: int) -> None:
    """Print the CPU used per idle window (median over *runs*) and the spin-down times."""
    profiles = [cpu_after(ort_call) for _ in range(runs)]
    downs = [spin_down_ms(p) for p in profiles]
    medians = [percentile([p[w] for p in profiles], 50) for w in range(IDLE_WINDOWS)]
    print(f"CPU ms used per {WINDOW_S * 1000:.0f} ms window of idle after an ONNX Runtime run (median of {runs}):")
    for w in range(0, IDLE_WINDOWS, 10):
        cells = " ".join(f"{ms:4.1f}" for ms in medians[w : w + 10])
        print(f"  {w * WINDOW_S * 1000:4.0f}-{(w + 10) * WINDOW_S * 1000:3.0f} ms: {cells}")
    total = sum(sum(p) for p in profiles) / runs
    print(f"CPU in the first {IDLE_WINDOWS * WINDOW_S * 1000:.0f} ms of idle: {total:.1f} ms (mean)")
    print(
        f"spin-down (last window above {BUSY:.0%} of a core): median {percentile(downs, 50):.0f} ms, "
        f"p90 {percentile(downs, 90):.0f} ms, max {max(downs):.0f} ms"
    )


def measure_next_call(ort_call: Any, torch_call: Any, runs: int) -> None:
    """Print the torch call's median time after an ONNX Runtime call and each pause, and after a torch call."""
    pauses: dict[str, float | None] = {f"after ORT + {p} ms": p / 1000.0 for p in PAUSES_MS}
    pauses["after torch (no ORT)"] = None
    samples: dict[str, list[float]] = {name: [] for name in pauses}
    for _ in range(runs):
        for name, pause in pauses.items():
            time.sleep(0.2)  # every case starts from rested threads
            if pause is None:
                torch_call()
            else:
                ort_call()
                time.sleep(pause)
            start = time.perf_counter()
            torch_call()
            samples[name].append((time.perf_counter() - start) * 1000.0)
    base = percentile(samples["after torch (no ORT)"], 50)
    print(f"torch INT8 call (8-token prompt) timed right after another call, median of {runs}:")
    for name, times in samples.items():
        med = percentile(times, 50)
        print(f"  {name:<22} {med:7.2f} ms  p90 {percentile(times, 90):7.2f} ms  ({med / base:.2f}× reference)")


def busy_ticks() -> tuple[float, int, int] | None:
    """Wall time, busy CPU ticks of the whole machine and of this process (Linux ``/proc``; None elsewhere)."""
    try:
        cpu = Path("/proc/stat").read_text().splitlines()[0].split()[1:]
        own = Path("/proc/self/stat").read_text().rsplit(")", 1)[1].split()
    except OSError:
        return None
    idle = int(cpu[3]) + int(cpu[4])  # idle + iowait
    return time.monotonic(), sum(int(c) for c in cpu[:8]) - idle, int(own[11]) + int(own[12])  # utime + stime


def report_others(before: tuple[float, int, int] | None, after: tuple[float, int, int] | None) -> None:
    """Print how busy other programs kept the CPUs during the measurements (they make the figures moot)."""
    if before is None or after is None:
        return
    ticks = os.sysconf("SC_CLK_TCK") * (after[0] - before[0]) * (os.cpu_count() or 1)
    others = (after[1] - before[1] - (after[2] - before[2])) / ticks
    print(f"other programs used {others:.0%} of the CPUs meanwhile (the figures mean something only near 0 %)")


def models(layers: int, work: Path) -> tuple[Any, Any]:
    """The ONNX Runtime INT8 model (per tensor) and the torch INT8 model (per channel) of the seeded GPT-2 of
    *layers* blocks, kept under *work* (a second run there finds both in its cache)."""
    folder = work / f"gpt2-{layers}l"
    if not (folder / "config.json").is_file():
        save_checkpoint(make_gpt2(layers), folder, tokenizer=False)
    session = Session(QuantCache(work / "data"))
    session.open(folder)
    print(f"building (or loading) the {layers}-layer ONNX Runtime and torch INT8 models in {work}")
    _, ort_int8 = session.pair(Runtime.ONNXRUNTIME, RecipeOptions())
    return ort_int8, session.int8(RecipeOptions(per_channel=True))


def measure(ort_int8: Any, torch_int8: Any, threads: int, runs: int) -> None:
    """Both measurements on an 8-token prompt, and how busy other programs kept the machine meanwhile."""
    ids = torch.randint(0, 50257, (1, 8), generator=torch.Generator().manual_seed(0))
    with torch.inference_mode():
        ort_call = lambda: ort_int8(input_ids=ids, logits_to_keep=1)
        torch_call = lambda: torch_int8(input_ids=ids, logits_to_keep=1, use_cache=False)
        for _ in range(5):
            ort_call(), torch_call()
        print(f"ONNX Runtime {onnxruntime.__version__}, {threads} threads")
        before = busy_ticks()
        measure_spin(ort_call, runs)
        measure_next_call(ort_call, torch_call, runs)
        report_others(before, busy_ticks())


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--layers", type=int, default=12)
    parser.add_argument("--threads", type=int, default=2)
    parser.add_argument("--runs", type=int, default=30)
    parser.add_argument("--work", type=Path, help="keep the models here for the next run (default: a temporary folder)")
    args = parser.parse_args()
    torch.set_num_threads(args.threads)
    if args.work is not None:
        args.work.mkdir(parents=True, exist_ok=True)
        measure(*models(args.layers, args.work), args.threads, args.runs)
        return
    with tempfile.TemporaryDirectory(prefix="gpt2q-ort-spin-") as tmp:
        measure(*models(args.layers, Path(tmp)), args.threads, args.runs)


if __name__ == "__main__":
    main()
