"""The user's choices, in one place with their defaults: the quantization recipe and how prompts are timed.

Torch-free, so that a window can hold them before torch is imported."""

from __future__ import annotations

import os
from dataclasses import asdict, dataclass
from typing import Any

from gpt2q_desktop.core.errors import PromptError

EVAL_TOKENS = 20_000
"""Tokens of a text a corpus evaluation reads by default (window and CLI alike)."""
SENSITIVITY_TOKENS = 512
"""Tokens of a text the layer-sensitivity ranking reads by default."""

AUTO_THREADS = 0
"""``RunSettings.threads`` value meaning the core's default thread count (``inference.default_threads``)."""
TOP_K_SHOWN = 50
"""The most top tokens the window shows per model (its Top-k box's maximum); the history keeps no more."""
RUN_RANGES: dict[str, tuple[int, int]] = {
    "repeats": (1, 10_000),
    "warmup": (0, 1_000),
    "threads": (AUTO_THREADS, os.cpu_count() or 1),
    "top_k": (1, TOP_K_SHOWN),
}
"""The lowest and highest value the window offers for each of :class:`RunSettings` (its spin boxes), and so
what a remembered setting may hold; the CLI checks only the lower bounds."""


@dataclass(frozen=True)
class RecipeOptions:
    """What the user chose; part of the cache key."""

    per_channel: bool = False
    keep_lm_head: bool = False
    quantize_embeddings: bool = True
    exclude_layers: tuple[int, ...] = ()

    def as_dict(self) -> dict[str, Any]:
        d = asdict(self)
        d["exclude_layers"] = sorted(self.exclude_layers)
        return d

    @classmethod
    def from_dict(cls, d: dict[str, Any]) -> RecipeOptions:
        return cls(
            per_channel=bool(d.get("per_channel", False)),
            keep_lm_head=bool(d.get("keep_lm_head", False)),
            quantize_embeddings=bool(d.get("quantize_embeddings", True)),
            exclude_layers=tuple(sorted(int(i) for i in d.get("exclude_layers", ()))),
        )

    def describe(self) -> str:
        parts = ["per-channel" if self.per_channel else "per-tensor"]
        parts.append("lm_head FP32" if self.keep_lm_head else "lm_head INT8")
        parts.append("embeddings INT8" if self.quantize_embeddings else "embeddings FP32")
        if self.exclude_layers:
            parts.append("blocks kept FP32: " + ",".join(map(str, sorted(self.exclude_layers))))
        return ", ".join(parts)


@dataclass(frozen=True)
class RunSettings:
    """How a prompt is timed and shown."""

    repeats: int = 20
    warmup: int = 3
    threads: int = AUTO_THREADS
    top_k: int = 5

    def __post_init__(self) -> None:
        if self.repeats < 1 or self.warmup < 0 or self.threads < 0 or self.top_k < 1:
            raise PromptError("repeats and top-k must be at least 1, warm-up and threads at least 0 (0: automatic).")

    def as_dict(self) -> dict[str, int]:
        return asdict(self)


@dataclass(frozen=True)
class ContinuationSettings:
    """How both models continue a prompt in the Quality lab."""

    n_tokens: int = 20
    temperature: float = 0.0
    """0 is greedy: always the most likely token."""
    seed: int = 0
    """The sampling seed; the same seed gives both models the same draws."""
