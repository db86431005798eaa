"""FP32 versus INT8 on one prompt, on one runtime or several: next tokens, probabilities, timing and agreement."""

from __future__ import annotations

from collections.abc import Sequence
from typing import Any

from gpt2q_desktop.core.measure.inference import (
    EncodedPrompt,
    resolved,
    time_interleaved,
    top_tokens,
)
from gpt2q_desktop.core.measure.metrics import kl_divergence, topk_overlap
from gpt2q_desktop.core.measure.noise import LoadWatch, usable_cores, verdict
from gpt2q_desktop.core.options import RunSettings
from gpt2q_desktop.core.results import ComparisonRow, SideResult
from gpt2q_desktop.core.runtimes import Runtime


def compare_encoded(pairs: Sequence[tuple[Any, Any]], tokenizer: Any, prompt: EncodedPrompt, settings: RunSettings) -> list[ComparisonRow]:
    """Time all models of the (FP32, INT8) pairs interleaved on the same token ids, their next tokens read from
    those calls; one row per pair, its runtime named by the models (``runtime``, else torch), its timing judged
    clean or noisy."""
    settings = resolved(settings)
    models = [m for pair in pairs for m in pair]
    watch = LoadWatch().start()
    timings, logits = time_interleaved(models, prompt.ids, settings)
    other_cores = watch.stop()
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
                runtime=getattr(fp32, "runtime", Runtime.TORCH),
                noise=verdict(
                    {"FP32": timings[2 * i].samples_ms, "INT8": timings[2 * i + 1].samples_ms},
                    other_cores, usable_cores() - settings.threads,
                ).reasons,  # fmt: skip
            )
        )
    return rows
