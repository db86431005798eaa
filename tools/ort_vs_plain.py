"""This tool's ONNX Runtime INT8 graph against the plain recipe's, prompt and decode step, in shuffled rounds.

    .venv/bin/python tools/ort_vs_plain.py [--layers 12] [--threads 2] [--rounds 80] [--work DIR]

Builds the GPT-2 of real shape (random init, fixed seed), this tool's INT8 graph (the default recipe, per tensor)
and the plain recipe's (``bench/plain.py``: ``quantize_dynamic`` on a plain export) in a temporary folder (or in
``--work``, kept for the next run). Then times, in one process, each graph's prompt (the next token of 8 tokens)
and decode step (one token after a past of 32), the four calls in a shuffled order every round, with the pause
after every call that ONNX Runtime's spinning threads need. Prints median and p90 ms and plain ÷ tool (above 1:
the tool is faster). ``gpt2q bench`` times the same rows among many; this isolates them. The machine's load
moves single runs by ±15 %: repeat, and compare medians of the ratios.
"""

from __future__ import annotations

import argparse
import random
import tempfile
import time
from pathlib import Path
from typing import Any

import numpy as np
import torch

from gpt2q_desktop.core.bench.plain import PlainInt8, build_plain_int8
from gpt2q_desktop.core.checkpoints.synthetic import make_gpt2
from gpt2q_desktop.core.measure.metrics import percentile
from gpt2q_desktop.core.options import RecipeOptions
from gpt2q_desktop.core.ort.graph import trace_fp32_graph
from gpt2q_desktop.core.ort.model import SETTLE_S, OrtCausalLM
from gpt2q_desktop.core.ort.recipe import quantize_graph


def graphs(layers: int, work: Path) -> tuple[Any, Any]:
    """This tool's INT8 graph and the plain recipe's, built into *work* unless they are there."""
    model = make_gpt2(layers)
    tool, plain = work / f"tool-{layers}l.onnx", work / f"plain-{layers}l.onnx"
    if not tool.exists():
        trace_fp32_graph(model, work / "fp32.onnx")
        quantize_graph(work / "fp32.onnx", tool, RecipeOptions())
        (work / "fp32.onnx").unlink()
    if not plain.exists():
        build_plain_int8(model, work).rename(plain)
    return OrtCausalLM(tool, model.config), PlainInt8(plain, model.config)


def timed(models: dict[str, Any], rounds: int) -> dict[str, list[float]]:
    """Milliseconds per call of each graph's prompt and decode step, shuffled rounds after 3 untimed ones."""
    rng = np.random.default_rng(0)
    prompt = rng.integers(0, 50257, (1, 8), dtype=np.int64)
    history = rng.integers(0, 50257, (1, 32), dtype=np.int64)
    calls = {}
    for name, model in models.items():
        _, past = model.run(history, np.array([31]), model.empty_past())
        calls[f"{name} prompt"] = lambda m=model: m.run(prompt, np.array([7]), m.empty_past())
        calls[f"{name} decode"] = lambda m=model, p=past: m.run(prompt[:, -1:], np.array([0]), p)
    samples: dict[str, list[float]] = {k: [] for k in calls}
    order = list(calls)
    for r in range(rounds + 3):
        random.Random(r).shuffle(order)
        for key in order:
            start = time.perf_counter()
            calls[key]()
            if r >= 3:
                samples[key].append((time.perf_counter() - start) * 1000.0)
            time.sleep(SETTLE_S)
    return samples


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--layers", type=int, default=12)
    parser.add_argument("--threads", type=int, default=2)
    parser.add_argument("--rounds", type=int, default=80)
    parser.add_argument("--work", type=Path, help="keep the graphs here for the next run")
    args = parser.parse_args()
    with tempfile.TemporaryDirectory() as tmp:
        work = args.work or Path(tmp)
        work.mkdir(parents=True, exist_ok=True)
        tool, plain = graphs(args.layers, work)
        torch.set_num_threads(args.threads)  # the graphs run on as many intra-op threads as torch is set to
        samples = timed({"tool": tool, "plain": plain}, args.rounds)
    median = {k: percentile(v, 50) for k, v in samples.items()}
    for key, values in samples.items():
        print(f"{key:<14}{median[key]:>9.2f} ms  p90 {percentile(values, 90):.2f}")
    for step in ("prompt", "decode"):
        print(f"plain ÷ tool, {step}: {median[f'plain {step}'] / median[f'tool {step}']:.3f}")


if __name__ == "__main__":
    main()
