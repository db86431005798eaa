"""Tuning runs behind the INT8 recipe's defaults: quantized engine, granularity, lm_head, thread count.

    .venv/bin/python tools/tune_int8.py [--layers 12] [--tokens 8] [--repeats 30] [--threads 1,2]

Builds the 12-layer GPT-2 of real shape (random init, fixed seed), quantizes it once per engine and option,
and times the next-token call (last position only) of every variant in one interleaved loop, per thread
count, so drift hits all alike. Prints median and p90 and the ratio to FP32 (last position). Run it on an
idle machine: on 2 cores a busy neighbour makes 2-thread timings meaningless.
"""

from __future__ import annotations

import argparse
from collections.abc import Callable
from typing import Any

import torch

from gpt2q_desktop.core.bench.run import time_interleaved_calls
from gpt2q_desktop.core.checkpoints.synthetic import make_gpt2
from gpt2q_desktop.core.measure.inference import torch_threads
from gpt2q_desktop.core.measure.metrics import percentile
from gpt2q_desktop.core.options import RecipeOptions
from gpt2q_desktop.core.quiet import quiet_torch
from gpt2q_desktop.core.runtimes import Kernels
from gpt2q_desktop.core.torch_int8.kernels import use_int8_kernels
from gpt2q_desktop.core.torch_int8.recipe import DynamicInt8Recipe

ENGINES = tuple(Kernels)
"""The INT8 kernels gpt2q can choose (``GPT2Q_INT8_KERNELS``)."""


def variants(fp32: torch.nn.Module) -> dict[str, tuple[str | None, torch.nn.Module]]:
    """name → (engine to run under, model)."""
    out: dict[str, tuple[str | None, torch.nn.Module]] = {"fp32_last": (None, fp32)}
    available = [e for e in ENGINES if e in torch.backends.quantized.supported_engines]
    for engine in available:
        out[f"int8 {engine}"] = (engine, DynamicInt8Recipe(engine).quantize(fp32, RecipeOptions()))
    default = use_int8_kernels()
    for label, options in (("per-channel", RecipeOptions(per_channel=True)), ("lm_head FP32", RecipeOptions(keep_lm_head=True))):
        out[f"int8 {default} {label}"] = (default, DynamicInt8Recipe().quantize(fp32, options))
    return out


def makers(models: dict[str, tuple[str | None, torch.nn.Module]], ids: torch.Tensor) -> dict[str, Callable[[], Callable[[], Any]]]:
    """For each variant, a maker that switches to its engine (untimed) and returns its next-token call."""

    def make(engine: str | None, model: torch.nn.Module) -> Callable[[], Callable[[], Any]]:
        def prepare() -> Callable[[], Any]:
            if engine is not None:
                torch.backends.quantized.engine = engine
            return lambda: model(input_ids=ids, logits_to_keep=1, use_cache=False)

        return prepare

    return {name: make(engine, model) for name, (engine, model) in models.items()}


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("--layers", type=int, default=12)
    parser.add_argument("--tokens", type=int, default=8)
    parser.add_argument("--repeats", type=int, default=30)
    parser.add_argument("--threads", default="1,2")
    args = parser.parse_args()

    fp32 = make_gpt2(args.layers)
    with quiet_torch():
        models = variants(fp32)
    ids = torch.randint(0, fp32.config.vocab_size, (1, args.tokens), generator=torch.Generator().manual_seed(0))
    print(f"{args.layers}-layer GPT-2, {args.tokens}-token prompt, {args.repeats} repeats, torch {torch.__version__}")
    print(f"{'threads':>7}  {'variant':<24}{'median ms':>10}{'p90 ms':>9}{'vs fp32_last':>14}")
    for threads in (int(t) for t in args.threads.split(",")):
        with torch_threads(threads), torch.inference_mode():
            samples = time_interleaved_calls(makers(models, ids), args.repeats, warmup=3)
        base = percentile(samples["fp32_last"], 50)
        for name, values in samples.items():
            med = percentile(values, 50)
            print(f"{threads:>7}  {name:<24}{med:>10.2f}{percentile(values, 90):>9.2f}{base / med:>13.2f}×")


if __name__ == "__main__":
    main()
