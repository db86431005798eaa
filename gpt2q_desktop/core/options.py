"""The user's quantization choices: torch-free, so a window can hold them before torch is imported."""

from __future__ import annotations

from dataclasses import asdict, dataclass
from typing import Any


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
