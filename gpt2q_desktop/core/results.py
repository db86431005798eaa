"""Results as every front end reads them, torch-free: a model's answer (top tokens, timing), a prompt's FP32-vs-INT8
row (the window, the history database and the rendered tables), and what a quantization produced."""

from __future__ import annotations

from dataclasses import asdict, dataclass, field
from typing import Any

from gpt2q_desktop.core.measure.metrics import percentile, speedup
from gpt2q_desktop.core.measure.noise import Verdict
from gpt2q_desktop.core.options import RecipeOptions
from gpt2q_desktop.core.runtimes import Kernels, Runtime
from gpt2q_desktop.core.sizes import int8_change


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
    runtime: Runtime = Runtime.TORCH
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
    kernels: Kernels | None = None
    """The INT8 kernels PyTorch's INT8 model ran on; None on ONNX Runtime (its own), or unknown (rows made before)."""

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
            "kernels": self.kernels,
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
            threads=int(d["threads"]), repeats=int(d["repeats"]), runtime=Runtime(d.get("runtime", Runtime.TORCH)),
            kernels=next((k for k in Kernels if k == d.get("kernels")), None),  # unknown: None, as in older rows
            noise=tuple(str(r) for r in d.get("noise_reasons", ())), checkpoint=str(d.get("checkpoint", "")),
            checkpoint_key=str(d.get("checkpoint_key", "")), recipe=str(d.get("recipe", "")),
            time=float(d.get("time", 0.0)),
        )  # fmt: skip


@dataclass
class QuantizeReport:
    """What a quantization produced, and what it cost."""

    layers_quantized: int
    layers_eligible: int
    embeddings_int8: int
    fp32_bytes: int
    int8_bytes: int
    seconds: float
    quantize_seconds: float
    cache_hit: bool
    cache_dir: str
    cache_key: str
    recipe: str
    """The name of the recipe that made the INT8 model (its cache manifest keeps the older key ``backend``)."""
    options: dict[str, Any]
    notes: list[str] = field(default_factory=list)
    runtime: Runtime = Runtime.TORCH
    """Where the INT8 model runs."""
    kernels: Kernels | None = None
    """The INT8 kernels PyTorch built it for (None on ONNX Runtime: it runs on its own)."""

    @property
    def size_ratio(self) -> float:
        return self.int8_bytes / self.fp32_bytes if self.fp32_bytes else 0.0

    @property
    def recipe_options(self) -> RecipeOptions:
        return RecipeOptions.from_dict(self.options)

    def as_dict(self) -> dict[str, Any]:
        d = asdict(self)
        d["size_ratio"] = self.size_ratio
        return d

    def summary(self) -> str:
        source = f"from cache in {self.seconds:.2f} s" if self.cache_hit else f"in {self.seconds:.2f} s"
        where = f"{self.runtime.label}: " if self.runtime is Runtime.ONNXRUNTIME else ""
        on = f" on {self.kernels} kernels" if self.kernels else ""
        return (
            f"{where}{self.layers_quantized}/{self.layers_eligible} linear layers INT8{on}, "
            f"{self.embeddings_int8} embedding{'' if self.embeddings_int8 == 1 else 's'} INT8; "
            f"{int8_change(self.fp32_bytes, self.int8_bytes)}; {source}"
        )
