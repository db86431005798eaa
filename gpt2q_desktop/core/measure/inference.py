"""Next-token prediction and benchmark-style timing.

Only the last position's logits are computed (``logits_to_keep=1``). Timing follows benchmark
practice: warm-up calls, many repeats, median and p90, a fixed thread count.
"""

from __future__ import annotations

import contextlib
import functools
import inspect
import time
from collections.abc import Iterator
from dataclasses import dataclass, replace
from typing import Any

import torch

from gpt2q_desktop.core.errors import PromptError
from gpt2q_desktop.core.measure.noise import usable_cores
from gpt2q_desktop.core.options import RunSettings
from gpt2q_desktop.core.results import Timing, TopToken
from gpt2q_desktop.core.text import check_prompt

MAX_PROMPT_CHARS_PER_POSITION = 16
"""Characters kept per model position before tokenizing a huge prompt (far more than a token needs)."""

def default_threads() -> int:
    """A fixed, reproducible thread count: the physical cores torch sees, but one (at least 1, at most 8).

    Measured with ``tools/threads_under_load.py`` (docs/timing.md): with every core busy-waiting, one core
    taken by another program stalls each parallel region (INT8 p90 147 ms for a 59 ms median on 2 cores); one
    core left free keeps median and p90 where they are on an idle machine, for both runtimes."""
    return max(1, min(8, min(torch.get_num_threads(), usable_cores()) - 1))


def resolved(settings: RunSettings) -> RunSettings:
    """*settings* with an automatic thread count replaced by :func:`default_threads`."""
    return settings if settings.threads else replace(settings, threads=default_threads())


@dataclass(frozen=True)
class EncodedPrompt:
    """Token ids of a prompt, after left truncation to the model's context if needed."""

    text: str
    ids: torch.Tensor
    original_tokens: int
    clipped_chars: bool = False

    @property
    def tokens(self) -> int:
        return int(self.ids.shape[1])

    @property
    def truncated(self) -> bool:
        return self.original_tokens > self.tokens

    def note(self) -> str:
        if not self.truncated:
            return ""
        more = "over " if self.clipped_chars else ""
        return f"prompt truncated from the left: {more}{self.original_tokens} tokens, last {self.tokens} kept"


def encode_prompt(tokenizer: Any, text: str, n_positions: int) -> EncodedPrompt:
    """Tokenize *text*; refuse an empty or invalid prompt, keep the last *n_positions* tokens of a long one."""
    check_prompt(text)
    budget = n_positions * MAX_PROMPT_CHARS_PER_POSITION
    clipped = text[-budget:] if len(text) > budget else text
    ids = tokenizer(clipped, add_special_tokens=False)["input_ids"]
    if not ids:
        raise PromptError("The prompt tokenizes to nothing.")
    kept = ids[-n_positions:]
    return EncodedPrompt(text, torch.tensor([kept], dtype=torch.long), len(ids), clipped is not text)


@contextlib.contextmanager
def torch_threads(n: int) -> Iterator[None]:
    """Run with exactly *n* intra-op threads, then restore the previous count."""
    before = torch.get_num_threads()
    torch.set_num_threads(n)
    try:
        yield
    finally:
        torch.set_num_threads(before)


def last_logits(model: torch.nn.Module, ids: torch.Tensor) -> torch.Tensor:
    """The next-token logits: only the last position is projected onto the vocabulary."""
    with torch.inference_mode():
        out = model(input_ids=ids, logits_to_keep=1, use_cache=False)
    return out.logits[0, -1].float()


@functools.cache
def cache_keyword() -> str:
    """transformers 5.24 renamed ``past_key_values`` to ``cache`` (the old name warns and goes in 5.40)."""
    from transformers import GPT2LMHeadModel

    return "cache" if "cache" in inspect.signature(GPT2LMHeadModel.forward).parameters else "past_key_values"


def new_kv_cache(model: torch.nn.Module) -> Any:
    """An empty KV cache for *model*; :func:`kv_step` appends to it in place."""
    if hasattr(model, "new_kv_cache"):  # an ONNX Runtime model keeps its own history
        return model.new_kv_cache()
    from transformers import DynamicCache

    return DynamicCache(config=model.config)


def kv_step(model: torch.nn.Module, ids: torch.Tensor, kv_cache: Any) -> torch.Tensor:
    """Feed *ids* after what *kv_cache* holds (appending to it); the last position's logits."""
    out = model(input_ids=ids, use_cache=True, logits_to_keep=1, **{cache_keyword(): kv_cache})
    return out.logits[0, -1]


def top_tokens(tokenizer: Any, logits: torch.Tensor, k: int) -> list[TopToken]:
    probs = torch.softmax(logits.double(), dim=-1)
    values, indices = torch.topk(probs, min(k, probs.numel()))
    return [
        TopToken(int(i), tokenizer.decode([int(i)]), float(p)) for p, i in zip(values.tolist(), indices.tolist())
    ]


def time_interleaved(models: list[Any], ids: torch.Tensor, settings: RunSettings) -> tuple[list[Timing], list[torch.Tensor]]:
    """Time each model's next-token call, alternating models every repeat so drift hits all alike; after a timed
    call of a model whose threads go on spinning (ONNX Runtime: ``settle_s``), wait until they rest before the next
    call. Also each model's next-token logits, from its first call (a warm-up's, or the first timed one's): the
    calls are deterministic, so no call is made for the logits alone."""
    samples: list[list[float]] = [[] for _ in models]
    first: list[Any] = []
    with torch_threads(resolved(settings).threads), torch.inference_mode():
        for round_ in range(settings.warmup + settings.repeats):
            timed = round_ >= settings.warmup
            for i, m in enumerate(models):
                start = time.perf_counter()
                out = m(input_ids=ids, logits_to_keep=1, use_cache=False)
                if timed:
                    samples[i].append((time.perf_counter() - start) * 1000.0)
                    time.sleep(getattr(m, "settle_s", 0.0))
                if round_ == 0:
                    first.append(out)
    return [Timing.of(s) for s in samples], [out.logits[0, -1].float() for out in first]
