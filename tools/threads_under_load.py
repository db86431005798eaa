"""Which default thread count survives a busy laptop? Times FP32 and INT8 under each candidate, idle and beside a
one-core CPU hog, and prints median and p90 for each.

    .venv/bin/python tools/threads_under_load.py [--layers 6] [--repeats 30] [--runtime torch|onnxruntime|both]

Candidates (each in a fresh process, since OpenMP reads its wait policy when torch loads):
  all      every usable core                       (torch's OpenMP threads spin while they wait)
  minus1   every usable core but one (at least 1)
  passive  every usable core, OMP_WAIT_POLICY=PASSIVE (waiting threads sleep instead of spinning)
Each is timed with the machine idle and with a busy-looping process beside it (the "one-core hog"). The model is
a seeded GPT-2 of real width (768, 12 heads, 50,257 tokens) with ``--layers`` blocks and an 8-token prompt; INT8
is this tool's recipe (and ONNX Runtime's with ``--runtime``). The cache in a temporary data dir is shared by the
runs, so the model is quantized (and exported) once. Run it on an otherwise idle machine.
"""

from __future__ import annotations

import argparse
import json
import os
import subprocess
import sys
import tempfile
from pathlib import Path

CANDIDATES = ("all", "minus1", "passive")


def _cores() -> int:
    try:
        return len(os.sched_getaffinity(0))
    except AttributeError:
        return os.cpu_count() or 1


def _threads(candidate: str) -> int:
    return max(1, _cores() - 1) if candidate == "minus1" else _cores()


def measure(folder: Path, threads: int, repeats: int, runtimes: tuple[str, ...]) -> dict[str, dict[str, float]]:
    """In this process: median and p90 (ms) of FP32 and INT8 per runtime on an 8-token prompt."""
    from gpt2q_desktop.core.measure.metrics import percentile
    from gpt2q_desktop.core.options import RecipeOptions, RunSettings
    from gpt2q_desktop.core.session import Session

    session = Session()
    session.open(folder)
    prompt = "The quick brown fox jumps over the lazy dog"
    settings = RunSettings(repeats=repeats, warmup=3, threads=threads)
    rows = list(session.compare([prompt], RecipeOptions(), settings, runtimes=runtimes))
    out = {}
    for row in rows:
        for side in ("fp32", "int8"):
            samples = getattr(row, side).timing.samples_ms
            out[f"{row.runtime} {side}"] = {"median": percentile(samples, 50), "p90": percentile(samples, 90), "noisy": row.noisy}
    return out


def _child(args: argparse.Namespace, folder: Path, candidate: str, hog: bool, data: Path) -> dict[str, dict[str, float]]:
    env = dict(os.environ, GPT2Q_DATA_DIR=str(data))
    if candidate == "passive":
        env["OMP_WAIT_POLICY"] = "PASSIVE"
    cmd = [sys.executable, __file__, "--child", str(folder), "--threads", str(_threads(candidate)),
           "--repeats", str(args.repeats), "--runtime", args.runtime]  # fmt: skip
    hog_proc = subprocess.Popen([sys.executable, "-c", "while True: pass"]) if hog else None
    try:
        done = subprocess.run(cmd, env=env, capture_output=True, text=True, check=True)
    finally:
        if hog_proc is not None:
            hog_proc.kill()
            hog_proc.wait()
    return json.loads(done.stdout.strip().splitlines()[-1])


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--layers", type=int, default=6)
    parser.add_argument("--repeats", type=int, default=30)
    parser.add_argument("--runtime", choices=("torch", "onnxruntime", "both"), default="both")
    parser.add_argument("--child", type=Path, help=argparse.SUPPRESS)
    parser.add_argument("--threads", type=int, help=argparse.SUPPRESS)
    args = parser.parse_args()
    runtimes = ("torch", "onnxruntime") if args.runtime == "both" else (args.runtime,)
    if args.child:
        print(json.dumps(measure(args.child, args.threads, args.repeats, runtimes)))
        return
    from gpt2q_desktop.core.checkpoints.synthetic import make_gpt2, save_checkpoint

    with tempfile.TemporaryDirectory(prefix="gpt2q-threads-") as tmp:
        folder = save_checkpoint(make_gpt2(args.layers), Path(tmp) / f"gpt2-{args.layers}l")
        data = Path(tmp) / "data"
        _child(args, folder, "all", False, data)  # quantize (and export) once, untimed
        print(f"{_cores()} usable cores; {args.layers}-layer GPT-2, 8-token prompt, {args.repeats} repeats; median / p90 ms")
        print(f"{'candidate':<10}{'threads':>8}  {'load':<6}{'model':<20}{'median':>9}{'p90':>9}  noisy")
        for candidate in CANDIDATES:
            for hog in (False, True):
                figures = _child(args, folder, candidate, hog, data)
                for model, f in figures.items():
                    print(
                        f"{candidate:<10}{_threads(candidate):>8}  {'hog' if hog else 'idle':<6}{model:<20}"
                        f"{f['median']:>9.2f}{f['p90']:>9.2f}  {'yes' if f['noisy'] else 'no'}",
                        flush=True,
                    )


if __name__ == "__main__":
    main()
