"""FP32 versus INT8 on one prompt: next tokens, probabilities, timing and agreement."""

from __future__ import annotations

from dataclasses import dataclass
from typing import Any

import torch

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
        }


def compare_encoded(
    fp32: torch.nn.Module, int8: torch.nn.Module, tokenizer: Any, prompt: EncodedPrompt, settings: RunSettings
) -> ComparisonRow:
    """Run both models on the same token ids, then time them interleaved."""
    settings = resolved(settings)
    p_logits = last_logits(fp32, prompt.ids)
    q_logits = last_logits(int8, prompt.ids)
    t_fp32, t_int8 = time_interleaved([fp32, int8], prompt.ids, settings)
    return ComparisonRow(
        prompt=prompt.text,
        tokens=prompt.tokens,
        note=prompt.note(),
        fp32=SideResult(tuple(top_tokens(tokenizer, p_logits, settings.top_k)), t_fp32),
        int8=SideResult(tuple(top_tokens(tokenizer, q_logits, settings.top_k)), t_int8),
        kl=kl_divergence(p_logits, q_logits),
        top5_overlap=topk_overlap(p_logits, q_logits, 5),
        threads=settings.threads,
        repeats=settings.repeats,
    )
