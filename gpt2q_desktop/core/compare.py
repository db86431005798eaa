"""FP32 versus INT8 on one prompt, on one runtime or several: next tokens, probabilities, timing and agreement."""

from __future__ import annotations

from collections.abc import Sequence
from dataclasses import dataclass
from typing import Any

from .metrics import kl_divergence, speedup, topk_overlap
from .options import RunSettings
from .runner import (
    EncodedPrompt,
    Timing,
    TopToken,
    last_logits,
    resolved,
    time_interleaved,
    top_tokens,
    torch_threads,
)


@dataclass(frozen=True)
class SideResult:
    """One model's answer to a prompt."""

    top: tuple[TopToken, ...]
    timing: Timing

    @property
    def token(self) -> str:
        return self.top[0].token

    @property
    def token_id(self) -> int:
        return self.top[0].token_id

    @property
    def prob(self) -> float:
        return self.top[0].prob

    def as_dict(self) -> dict[str, Any]:
        return {
            "token": self.token,
            "token_id": self.token_id,
            "prob": self.prob,
            "median_ms": self.timing.median_ms,
            "p90_ms": self.timing.p90_ms,
            "top": [t.as_dict() for t in self.top],
        }


@dataclass(frozen=True)
class ComparisonRow:
    """FP32 and INT8 side by side for one prompt."""

    prompt: str
    tokens: int
    note: str
    fp32: SideResult
    int8: SideResult
    kl: float
    top5_overlap: float
    threads: int
    repeats: int
    runtime: str = "torch"
    """Where both models ran: ``torch`` or ``onnxruntime``."""

    @property
    def agree(self) -> bool:
        return self.fp32.token_id == self.int8.token_id

    @property
    def speedup(self) -> float:
        return speedup(self.fp32.timing.median_ms, self.int8.timing.median_ms)

    def as_dict(self) -> dict[str, Any]:
        return {
            "prompt": self.prompt,
            "prompt_tokens": self.tokens,
            "note": self.note,
            "fp32": self.fp32.as_dict(),
            "int8": self.int8.as_dict(),
            "agree": self.agree,
            "kl": self.kl,
            "top5_overlap": self.top5_overlap,
            "speedup": self.speedup,
            "threads": self.threads,
            "repeats": self.repeats,
            "runtime": self.runtime,
        }


def compare_encoded(pairs: Sequence[tuple[Any, Any]], tokenizer: Any, prompt: EncodedPrompt, settings: RunSettings) -> list[ComparisonRow]:
    """Run each (FP32, INT8) pair on the same token ids, then time all models interleaved; one row per pair,
    its runtime named by the models (``runtime``, else torch)."""
    settings = resolved(settings)
    models = [m for pair in pairs for m in pair]
    with torch_threads(settings.threads):
        logits = [last_logits(m, prompt.ids) for m in models]
    timings = time_interleaved(models, prompt.ids, settings)
    rows = []
    for i, (fp32, _) in enumerate(pairs):
        p_logits, q_logits = logits[2 * i], logits[2 * i + 1]
        rows.append(
            ComparisonRow(
                prompt=prompt.text,
                tokens=prompt.tokens,
                note=prompt.note(),
                fp32=SideResult(tuple(top_tokens(tokenizer, p_logits, settings.top_k)), timings[2 * i]),
                int8=SideResult(tuple(top_tokens(tokenizer, q_logits, settings.top_k)), timings[2 * i + 1]),
                kl=kl_divergence(p_logits, q_logits),
                top5_overlap=topk_overlap(p_logits, q_logits, 5),
                threads=settings.threads,
                repeats=settings.repeats,
                runtime=getattr(fp32, "runtime", "torch"),
            )
        )
    return rows
