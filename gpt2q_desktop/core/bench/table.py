"""The rows of ``gpt2q bench`` and the plain-text table they print as."""

from __future__ import annotations

from dataclasses import asdict, dataclass, field
from typing import Any

from gpt2q_desktop.core.bench.ort_variants import ORT_VARIANTS, ort_notes
from gpt2q_desktop.core.measure.noise import fix


@dataclass
class BenchRow:
    """One variant of one model at one prompt length."""

    model: str
    layers: int
    prompt_tokens: int
    variant: str
    median_ms: float
    p90_ms: float
    bytes: int
    ratio_vs_fp32_full: float = 0.0
    ratio_vs_fp32_last: float = 0.0
    extra: dict[str, Any] = field(default_factory=dict)
    noise: str = ""
    """Why this variant's timing is unreliable (empty: clean)."""
    kernels: str | None = None
    """The INT8 kernels a PyTorch INT8 variant ran on (None for FP32 and ONNX Runtime variants)."""

    @property
    def noisy(self) -> bool:
        return bool(self.noise)

    def as_dict(self) -> dict[str, Any]:
        return {**asdict(self), "noisy": self.noisy}


def render_bench(rows: list[BenchRow], bandwidth_gbs: float, threads: int) -> str:
    """A plain-text table with ratios beside the times, and the bandwidth floor for decode steps (timed on
    *threads* threads)."""
    head = f"{'model':<14}{'tokens':>7}  {'variant':<22}{'median ms':>10}{'p90 ms':>9}{'vs full':>9}{'vs last':>9}{'MB':>9}{'of FP32':>8}  notes"
    out = [head, "-" * len(head)]
    fp32_bytes = {r.model: r.bytes for r in rows if r.variant == "fp32_full"}
    for r in rows:
        out.append(
            f"{r.model:<14}{r.prompt_tokens:>7}  {r.variant:<22}{r.median_ms:>10.2f}{r.p90_ms:>9.2f}"
            f"{r.ratio_vs_fp32_full:>8.2f}×{r.ratio_vs_fp32_last:>8.2f}×{r.bytes / 1e6:>9.1f}"
            f"{r.bytes / fp32_bytes[r.model]:>8.0%}  {'; '.join(_notes(r, bandwidth_gbs))}".rstrip()
        )
    if any(r.noisy for r in rows):
        out.append(f"NOISY rows: timing unreliable: {fix(threads)} (or --retries N to measure them again)")
    return "\n".join(out) + "\n"


def _notes(r: BenchRow, bandwidth_gbs: float) -> list[str]:
    """A row's notes: build and reload times, serving memory, the ONNX Runtime checks, the decode floor."""
    notes = [f"NOISY ({r.noise})"] if r.noisy else []
    if "quantize_s" in r.extra and r.variant in ("int8", "int8_per_channel"):
        speed = r.extra["quantize_s"] / max(r.extra["cache_load_s"], 1e-9)
        notes.append(f"quantize {r.extra['quantize_s']:.2f}s, cache load {r.extra['cache_load_s']:.2f}s ({speed:.1f}×)")
    if "peak_rss_mb" in r.extra and r.variant in ("fp32_last", "int8", "int8_per_channel"):
        notes.append(f"serving: peak RSS {r.extra['peak_rss_mb']:.0f} MB, model {r.extra['model_rss_mb']:.0f} MB")
    elif "serving_memory" in r.extra and r.variant in ("fp32_last", "int8", "int8_per_channel"):
        notes.append(f"serving memory {r.extra['serving_memory']}")
    if r.variant in ORT_VARIANTS:
        notes += ort_notes(r.variant, r.extra)
    if "streamed_mb" in r.extra:
        floor = r.extra["streamed_mb"] / 1e3 / bandwidth_gbs * 1e3
        notes.append(
            f"{r.extra['ratio_vs_fp32_decode']:.2f}× vs FP32 decode; streams {r.extra['streamed_mb']:.0f} MB → floor {floor:.1f} ms"
        )
    return notes
