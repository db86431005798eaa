"""Both models continue a prompt: their tokens, where they part, and per-token latency timed as a benchmark would.

The two models take their steps in turn (FP32 one token, INT8 one token, …) on a fixed thread count after an
untimed warm-up, so a change in the machine's load hits both alike; the prompt's step (the whole prompt read,
the first token out) is kept apart from the per-token steps; the timing is marked unreliable when other programs
kept the CPU busy meanwhile. On both runtimes a step after the first feeds one token after a KV cache.
"""

from __future__ import annotations

import time
from dataclasses import dataclass
from typing import Any

import torch

from gpt2q_desktop.core.errors import Cancelled
from gpt2q_desktop.core.measure.inference import encode_prompt, kv_step, new_kv_cache, torch_threads
from gpt2q_desktop.core.measure.metrics import percentile
from gpt2q_desktop.core.measure.noise import LoadWatch, Verdict, usable_cores, verdict
from gpt2q_desktop.core.progress import CancelFn


@dataclass(frozen=True)
class Continuation:
    """Tokens one model generated after a prompt, and how long its steps took."""

    token_ids: tuple[int, ...]
    tokens: tuple[str, ...]
    prompt_ms: float | None
    """The first step: the prompt read and the first token chosen (None when nothing was generated)."""
    step_ms: tuple[float, ...]
    """Each later token's step."""

    @property
    def text(self) -> str:
        return "".join(self.tokens)

    @property
    def median_ms(self) -> float | None:
        """Median milliseconds per token after the first (None with fewer than two tokens)."""
        return percentile(list(self.step_ms), 50) if self.step_ms else None

    @property
    def p90_ms(self) -> float | None:
        return percentile(list(self.step_ms), 90) if self.step_ms else None

    def as_dict(self) -> dict[str, Any]:
        return {
            "text": self.text, "token_ids": list(self.token_ids), "tokens": list(self.tokens),
            "prompt_ms": self.prompt_ms, "median_ms": self.median_ms, "p90_ms": self.p90_ms,
            "step_ms": list(self.step_ms),
        }  # fmt: skip


@dataclass(frozen=True)
class ContinuationPair:
    prompt: str
    fp32: Continuation
    int8: Continuation
    first_divergence: int | None
    """Index of the first token where the two continuations differ, or None if they never do."""
    note: str = ""
    """Set when the prompt was cut from the left to leave room for the continuation."""
    threads: int = 1
    noise: tuple[str, ...] = ()
    """Why the timing is unreliable, in words (empty: clean)."""

    @property
    def noisy(self) -> bool:
        return bool(self.noise)

    def as_dict(self) -> dict[str, Any]:
        return {
            "prompt": self.prompt, "fp32": self.fp32.as_dict(), "int8": self.int8.as_dict(),
            "first_divergence": self.first_divergence, "note": self.note, "threads": self.threads,
            "noisy": self.noisy, "noise": self.noise_text(),
        }  # fmt: skip

    def noise_text(self) -> str:
        """One line: what made the timing unreliable and the fix; "" when clean. The lab has no Threads setting
        to lower, so the fix is to close the other program."""
        return Verdict(self.noise).explain(threads=1)


class _Stepper:
    """One model generating a token per :meth:`step`, with its own KV cache and its own random draws."""

    def __init__(self, model: Any, ids: torch.Tensor, temperature: float, seed: int) -> None:
        self.model, self.temperature = model, temperature
        self.draws = torch.Generator().manual_seed(seed)
        self.kv_cache = new_kv_cache(model)
        self.feed = ids
        self.ids: list[int] = []
        self.ms: list[float] = []

    def step(self) -> None:
        start = time.perf_counter()
        logits = kv_step(self.model, self.feed, self.kv_cache).float()
        if self.temperature > 0:
            probs = torch.softmax(logits / self.temperature, dim=-1)
            next_id = int(torch.multinomial(probs, 1, generator=self.draws))
        else:
            next_id = int(logits.argmax())
        self.ms.append((time.perf_counter() - start) * 1000.0)
        time.sleep(getattr(self.model, "settle_s", 0.0))  # ONNX Runtime's threads rest before the other's step
        self.feed = torch.tensor([[next_id]])
        self.ids.append(next_id)

    def result(self, tokenizer: Any) -> Continuation:
        tokens = tuple(tokenizer.decode([i]) for i in self.ids)
        return Continuation(tuple(self.ids), tokens, self.ms[0] if self.ms else None, tuple(self.ms[1:]))


def continuation_pair(
    fp32: Any, int8: Any, tokenizer: Any, prompt: str, n_tokens: int, n_positions: int, threads: int,
    temperature: float = 0.0, seed: int = 0, cancelled: CancelFn | None = None,
) -> ContinuationPair:  # fmt: skip
    """Both models continue *prompt* by *n_tokens* on *threads* threads, greedy when *temperature* is 0 (a long
    prompt is cut from the left to make room); the first position where they part is marked."""
    n_tokens = max(1, min(n_tokens, n_positions - 1))
    encoded = encode_prompt(tokenizer, prompt, n_positions - n_tokens)
    steppers = [_Stepper(model, encoded.ids, temperature, seed) for model in (fp32, int8)]
    with torch_threads(threads), torch.inference_mode():
        for model in (fp32, int8):
            if cancelled is not None and cancelled():
                raise Cancelled("Generation cancelled.")
            kv_step(model, encoded.ids, new_kv_cache(model))  # warm-up, untimed
            time.sleep(getattr(model, "settle_s", 0.0))
        watch = LoadWatch().start()
        for _ in range(n_tokens):
            for stepper in steppers:
                if cancelled is not None and cancelled():
                    raise Cancelled("Generation cancelled.")
                stepper.step()
        other_cores = watch.stop()
    a, b = (s.result(tokenizer) for s in steppers)
    diverge = next((i for i, (x, y) in enumerate(zip(a.token_ids, b.token_ids)) if x != y), None)
    noise = verdict({}, other_cores, usable_cores() - threads).reasons
    return ContinuationPair(prompt, a, b, diverge, encoded.note(), threads, noise)
