"""Comparison metrics between FP32 and INT8 next-token distributions, and timing statistics.

torch is imported where a tensor is needed, so the window can use :func:`percentile` without it.
"""

from __future__ import annotations

import math
from collections.abc import Sequence
from typing import TYPE_CHECKING

if TYPE_CHECKING:
    import torch


def percentile(values: Sequence[float], q: float) -> float:
    """The *q*-th percentile (0–100) with linear interpolation, as numpy's default."""
    if not values:
        raise ValueError("percentile of no values")
    ordered = sorted(values)
    pos = (len(ordered) - 1) * q / 100.0
    lo, hi = math.floor(pos), math.ceil(pos)
    return ordered[lo] + (ordered[hi] - ordered[lo]) * (pos - lo)


def kl_divergence(p_logits: torch.Tensor, q_logits: torch.Tensor) -> float:
    """KL(P‖Q) in nats between the softmax distributions of two logit vectors (float64)."""
    import torch

    log_p = torch.log_softmax(p_logits.double(), dim=-1)
    log_q = torch.log_softmax(q_logits.double(), dim=-1)
    return max(0.0, float((log_p.exp() * (log_p - log_q)).sum()))


def topk_overlap(p_logits: torch.Tensor, q_logits: torch.Tensor, k: int = 5) -> float:
    """Share of the top-*k* tokens two distributions have in common (0–1)."""
    import torch

    a = set(torch.topk(p_logits, k).indices.tolist())
    b = set(torch.topk(q_logits, k).indices.tolist())
    return len(a & b) / k


def speedup(baseline_ms: float, candidate_ms: float) -> float:
    """How many times faster *candidate* is than *baseline* (a ratio, not a difference)."""
    return baseline_ms / candidate_ms if candidate_ms > 0 else float("inf")
