"""The results of a comparison, torch-free: a model's answer (top tokens, timing) and a prompt's FP32-vs-INT8
row, as the window, the history database and the reports read them."""

from __future__ import annotations

from dataclasses import dataclass
from typing import Any

from .metrics import percentile, speedup
from .noise import Verdict


@dataclass(frozen=True)
class Timing:
    median_ms: float
    p90_ms: float
    samples_ms: tuple[float, ...]

    @classmethod
    def of(cls, samples_ms: list[float]) -> Timing:
        return cls(percentile(samples_ms, 50), percentile(samples_ms, 90), tuple(samples_ms))


@dataclass(frozen=True)
class TopToken:
    token_id: int
    token: str
    prob: float

    def as_dict(self) -> dict[str, Any]:
        return {"token_id": self.token_id, "token": self.token, "prob": self.prob}


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
    noise: tuple[str, ...] = ()
    """Why the timing is unreliable, in words (empty: clean); see :mod:`noise`."""
    checkpoint: str = ""
    checkpoint_key: str = ""
    """The checkpoint's content key (its config and weight bytes hashed): the same model under another name."""
    recipe: str = ""
    """The INT8 recipe, in words (``RecipeOptions.describe``)."""
    time: float = 0.0
    """When the row was measured (seconds since the epoch)."""

    @property
    def noisy(self) -> bool:
        return bool(self.noise)

    def speedup_text(self) -> str:
        """The speedup in words: "2.41× faster", "0.80× slower", or "unreliable (0.71×)" when noisy."""
        if self.noisy:
            return f"unreliable ({self.speedup:.2f}×)"
        return f"{self.speedup:.2f}× faster" if self.speedup >= 1 else f"{1 / self.speedup:.2f}× slower"

    def noise_text(self) -> str:
        """One line: what made the timing unreliable and the fix; "" when clean."""
        return Verdict(self.noise).explain(self.threads)

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
            "noisy": self.noisy,
            "noise": self.noise_text(),
            "noise_reasons": list(self.noise),
            "checkpoint": self.checkpoint,
            "checkpoint_key": self.checkpoint_key,
            "recipe": self.recipe,
            "time": self.time,
        }

    @classmethod
    def from_dict(cls, d: dict[str, Any]) -> ComparisonRow:
        """The row :meth:`as_dict` wrote (timing samples are not kept: median and p90 are)."""

        def side(s: dict[str, Any]) -> SideResult:
            top = tuple(TopToken(int(t["token_id"]), str(t["token"]), float(t["prob"])) for t in s["top"])
            return SideResult(top, Timing(float(s["median_ms"]), float(s["p90_ms"]), ()))

        return cls(
            prompt=str(d["prompt"]), tokens=int(d["prompt_tokens"]), note=str(d.get("note", "")),
            fp32=side(d["fp32"]), int8=side(d["int8"]), kl=float(d["kl"]), top5_overlap=float(d["top5_overlap"]),
            threads=int(d["threads"]), repeats=int(d["repeats"]), runtime=str(d.get("runtime", "torch")),
            noise=tuple(str(r) for r in d.get("noise_reasons", ())), checkpoint=str(d.get("checkpoint", "")),
            checkpoint_key=str(d.get("checkpoint_key", "")), recipe=str(d.get("recipe", "")),
            time=float(d.get("time", 0.0)),
        )  # fmt: skip
