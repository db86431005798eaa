"""What bounds a decode step on this machine: the memory read bandwidth, and the weight bytes a step streams."""

from __future__ import annotations

import time

import torch
from torch import nn

from gpt2q_desktop.core.measure.inference import torch_threads


def read_bandwidth_gbs(threads: int, mbytes: int = 512) -> float:
    """Measured memory read bandwidth (GB/s): the best of a few sums over a large buffer."""
    buf = torch.ones(mbytes * 2**20 // 4)
    best = float("inf")
    with torch_threads(threads):
        for _ in range(5):
            start = time.perf_counter()
            buf.sum()
            best = min(best, time.perf_counter() - start)
    return buf.numel() * 4 / best / 1e9


def streamed_bytes_per_token(model: nn.Module) -> int:
    """Weight bytes one decode step must read: every matrix once (embedding lookups excluded)."""
    import torch.ao.nn.quantized.dynamic as nnqd

    total = 0
    for m in model.modules():
        if isinstance(m, nnqd.Linear):
            total += m.in_features * m.out_features  # int8
        elif isinstance(m, nn.Linear) or type(m).__name__ == "Conv1D":
            total += m.weight.numel() * 4
    return total
