"""Quality lab: how far INT8 is from FP32 over a text, and which layers to blame (the continuation side by
side is :mod:`continuation`).

* :func:`evaluate_text` — perplexity of each model, KL(FP32‖INT8) mean / median / p99 and histogram,
  Δp percentiles of the reference token, top-1 agreement, over a text streamed in bounded chunks;
* :func:`layer_sensitivity` — the KL each block adds when it alone is INT8, ranked.
"""

from __future__ import annotations

import itertools
import math
from collections.abc import Iterator
from dataclasses import asdict, dataclass, field, replace
from pathlib import Path
from typing import Any

import torch

from gpt2q_desktop.core.errors import Cancelled, Gpt2qError
from gpt2q_desktop.core.files import NotARegularFile, file_problem, open_regular
from gpt2q_desktop.core.measure.metrics import percentile
from gpt2q_desktop.core.options import EVAL_TOKENS, RecipeOptions
from gpt2q_desktop.core.progress import CancelFn, ProgressFn
from gpt2q_desktop.core.torch_int8.recipe import DynamicInt8Recipe, QuantizationRecipe

KL_BINS = tuple(10.0**e for e in range(-7, 2))  # histogram edges: 1e-7 … 10 nats
CHUNK_CHARS = 200_000


# -- corpus evaluation ---------------------------------------------------------------------------
@dataclass
class CorpusEval:
    """FP32 versus INT8 over a text, token by token."""

    tokens: int
    ppl_fp32: float
    ppl_int8: float
    kl_mean: float
    kl_median: float
    kl_p99: float
    kl_max: float
    delta_p: dict[str, float]
    top1_agreement: float
    kl_histogram: list[int]
    kl_bins: list[float] = field(default_factory=lambda: list(KL_BINS))

    def as_dict(self) -> dict[str, Any]:
        return asdict(self)

    def summary(self) -> str:
        return (
            f"{self.tokens:,} tokens: perplexity FP32 {self.ppl_fp32:.2f} vs INT8 {self.ppl_int8:.2f}; "
            f"KL mean {self.kl_mean:.2e}, median {self.kl_median:.2e}, p99 {self.kl_p99:.2e}; "
            f"same top token {self.top1_agreement:.1%}; Δp p1 {self.delta_p['p1']:+.4f} p99 {self.delta_p['p99']:+.4f}"
        )


def read_text(path: Path) -> Iterator[str]:
    """A UTF-8 text file in chunks (bounded memory on large files), split at line ends."""
    try:
        with open_regular(path, "r", encoding="utf-8") as fh:
            carry = ""
            while chunk := fh.read(CHUNK_CHARS):
                chunk = carry + chunk
                cut = chunk.rfind("\n") + 1 or len(chunk)
                carry = chunk[cut:]
                yield chunk[:cut]
            if carry:
                yield carry
    except FileNotFoundError:
        raise Gpt2qError(f"The text file {path} does not exist.") from None
    except NotARegularFile:
        raise Gpt2qError(f"The text file {path} {file_problem(path)}.") from None
    except (OSError, UnicodeDecodeError) as exc:
        raise Gpt2qError(f"The text file {path} cannot be read as UTF-8 text: {exc}") from None


def checked_chunks(path: Path) -> Iterator[str]:
    """The text file at *path* in chunks; a missing or unreadable file is refused at once, before any long work."""
    chunks = read_text(path)
    first = next(chunks, "")
    return itertools.chain([first], chunks)


def head_text(chunks: Iterator[str], tokenizer: Any, max_tokens: int) -> str:
    """The start of a text, whole chunks at a time, until it holds more than *max_tokens* tokens."""
    text = ""
    for chunk in chunks:
        text += chunk
        if len(tokenizer(text, add_special_tokens=False)["input_ids"]) > max_tokens:
            break
    return text


def _windows(tokenizer: Any, chunks: Iterator[str], window: int, max_tokens: int) -> Iterator[list[int]]:
    """Non-overlapping windows of token ids, at most *max_tokens* tokens in all."""
    buf: list[int] = []
    seen = 0
    for chunk in chunks:
        buf += tokenizer(chunk, add_special_tokens=False)["input_ids"]
        while len(buf) >= window and seen < max_tokens:
            take = min(window, max_tokens - seen + 1)
            yield buf[:take]
            seen += take - 1
            buf = buf[take:]
        if seen >= max_tokens:
            return
    if len(buf) >= 2 and seen < max_tokens:
        yield buf[: max_tokens - seen + 1]


def _window_stats(fp32: torch.nn.Module, int8: torch.nn.Module, ids: list[int]) -> dict[str, torch.Tensor]:
    x = torch.tensor([ids])
    with torch.inference_mode():
        lp = torch.log_softmax(fp32(input_ids=x, use_cache=False).logits[0, :-1].double(), -1)
        lq = torch.log_softmax(int8(input_ids=x, use_cache=False).logits[0, :-1].double(), -1)
    target = x[0, 1:]
    rows = torch.arange(target.numel())
    return {
        "nll_p": -lp[rows, target],
        "nll_q": -lq[rows, target],
        "kl": (lp.exp() * (lp - lq)).sum(-1).clamp_min(0.0),
        "dp": lq[rows, target].exp() - lp[rows, target].exp(),
        "agree": (lp.argmax(-1) == lq.argmax(-1)).double(),
    }


def evaluate_text(
    fp32: torch.nn.Module, int8: torch.nn.Module, tokenizer: Any, chunks: Iterator[str], window: int,
    max_tokens: int = EVAL_TOKENS, progress: ProgressFn | None = None, cancelled: CancelFn | None = None,
) -> CorpusEval:  # fmt: skip
    """Perplexities, KL statistics, Δp percentiles and top-1 agreement over the text in *chunks*."""
    parts: dict[str, list[torch.Tensor]] = {}
    done = 0
    for ids in _windows(tokenizer, chunks, window, max_tokens):
        if cancelled is not None and cancelled():
            raise Cancelled("Evaluation cancelled.")
        for key, value in _window_stats(fp32, int8, ids).items():
            parts.setdefault(key, []).append(value.float())
        done += len(ids) - 1
        if progress is not None:
            progress(done, max_tokens, f"evaluated {done:,} tokens")
    if not parts:
        raise Gpt2qError("The text is too short to evaluate: it needs at least two tokens.")
    if progress is not None and done < max_tokens:  # the text ended first: the whole of it is done
        progress(done, done, f"evaluated {done:,} tokens, the whole text")
    s = {k: torch.cat(v).double() for k, v in parts.items()}
    kl = s["kl"].tolist()
    dp = s["dp"].tolist()
    counts = [0] * (len(KL_BINS) + 1)
    for value in kl:
        counts[sum(value >= edge for edge in KL_BINS)] += 1
    return CorpusEval(
        tokens=len(kl),
        ppl_fp32=math.exp(float(s["nll_p"].mean())),
        ppl_int8=math.exp(float(s["nll_q"].mean())),
        kl_mean=float(s["kl"].mean()),
        kl_median=percentile(kl, 50),
        kl_p99=percentile(kl, 99),
        kl_max=max(kl),
        delta_p={f"p{q}": percentile(dp, q) for q in (1, 5, 50, 95, 99)},
        top1_agreement=float(s["agree"].mean()),
        kl_histogram=counts,
    )


# -- per-layer sensitivity -----------------------------------------------------------------------
@dataclass(frozen=True)
class LayerScore:
    """The KL a part adds when it alone is quantized."""

    layer: str
    block: int | None
    """The block's number; None for lm_head with the embeddings."""
    kl_mean: float
    top1_agreement: float

    def as_dict(self) -> dict[str, Any]:
        return asdict(self)


def layer_sensitivity(
    fp32: torch.nn.Module, tokenizer: Any, text: str, window: int, max_tokens: int = 512,
    per_channel: bool = False, recipe: QuantizationRecipe | None = None,
    progress: ProgressFn | None = None, cancelled: CancelFn | None = None,
) -> list[LayerScore]:  # fmt: skip
    """Quantize one block at a time (then lm_head with the embeddings alone); rank by the KL each adds."""
    recipe = recipe or DynamicInt8Recipe()
    every = tuple(range(len(fp32.transformer.h)))
    block_alone = RecipeOptions(per_channel=per_channel, keep_lm_head=True, quantize_embeddings=False)
    parts: list[tuple[str, int | None, RecipeOptions]] = [
        (f"block {i}", i, replace(block_alone, exclude_layers=tuple(j for j in every if j != i))) for i in every
    ]
    head_alone = RecipeOptions(per_channel=per_channel, keep_lm_head=False, quantize_embeddings=True, exclude_layers=every)
    parts.append(("lm_head + embeddings", None, head_alone))
    scores = []
    for done, (label, block, options) in enumerate(parts):
        if cancelled is not None and cancelled():
            raise Cancelled("Sensitivity analysis cancelled.")
        if progress is not None:
            progress(done, len(parts), f"measuring {label}")
        int8 = recipe.quantize(fp32, options, cancelled=cancelled)
        result = evaluate_text(fp32, int8, tokenizer, iter([text]), window, max_tokens, cancelled=cancelled)
        scores.append(LayerScore(label, block, result.kl_mean, result.top1_agreement))
    if progress is not None:
        progress(len(parts), len(parts), "done")
    return sorted(scores, key=lambda s: s.kl_mean, reverse=True)
