"""Continuations side by side: the tokens each model chooses, where they part, and how their speed is timed."""

from __future__ import annotations

from typing import Any

import pytest
import torch

from gpt2q_desktop.core.checkpoints.checkpoint import load_checkpoint
from gpt2q_desktop.core.errors import Cancelled
from gpt2q_desktop.core.measure import continuation
from gpt2q_desktop.core.measure.continuation import continuation_pair
from gpt2q_desktop.core.measure.inference import encode_prompt, last_logits
from gpt2q_desktop.core.options import RecipeOptions
from gpt2q_desktop.core.torch_int8.recipe import DynamicInt8Recipe


@pytest.fixture(scope="module")
def pair(trained_checkpoint):
    loaded = load_checkpoint(trained_checkpoint)
    return loaded, DynamicInt8Recipe().quantize(loaded.model, RecipeOptions(per_channel=True))


class _Logged:
    """A model that notes each call: which model, how many new tokens, on how many threads; its threads need
    *settle_s* to rest after a call, as ONNX Runtime's do."""

    settle_s = 0.01

    def __init__(self, model: Any, name: str, calls: list[tuple[str, int, int]]) -> None:
        self.model, self.config, self.name, self.calls = model, model.config, name, calls

    def __call__(self, **kwargs: Any) -> Any:
        self.calls.append((self.name, int(kwargs["input_ids"].shape[1]), torch.get_num_threads()))
        return self.model(**kwargs)


def test_greedy_tokens_are_each_models_step_by_step_argmax(pair) -> None:
    loaded, int8 = pair
    got = continuation_pair(loaded.model, int8, loaded.tokenizer, "The cat sat", 5, 64, threads=1)
    for model, side in ((loaded.model, got.fp32), (int8, got.int8)):
        manual = encode_prompt(loaded.tokenizer, "The cat sat", 64).ids
        for expected in side.token_ids:
            nxt = int(last_logits(model, manual).argmax())
            assert nxt == expected
            manual = torch.cat([manual, torch.tensor([[nxt]])], dim=1)
    assert got.fp32.text.startswith(" on") and len(got.int8.token_ids) == 5


def test_the_models_take_their_steps_in_turn_on_the_threads_asked_after_a_warm_up(pair, monkeypatch) -> None:
    loaded, int8 = pair
    calls: list[tuple[str, int, int]] = []
    monkeypatch.setattr(continuation.time, "sleep", lambda s: calls.append(("rest", s, 0)))
    fp32, quantized = _Logged(loaded.model, "FP32", calls), _Logged(int8, "INT8", calls)
    got = continuation_pair(fp32, quantized, loaded.tokenizer, "The cat sat", 4, 64, threads=2)
    prompt, rest = encode_prompt(loaded.tokenizer, "The cat sat", 64).tokens, ("rest", 0.01, 0)
    warm_up = [("FP32", prompt, 2), rest, ("INT8", prompt, 2), rest]
    first = [("FP32", prompt, 2), rest, ("INT8", prompt, 2), rest]
    later = [("FP32", 1, 2), rest, ("INT8", 1, 2), rest] * 3
    assert calls == warm_up + first + later
    for side in (got.fp32, got.int8):
        assert side.prompt_ms is not None and len(side.step_ms) == 3, "the prompt's step is kept apart"
        assert side.median_ms is not None and side.p90_ms is not None and side.median_ms <= side.p90_ms
    assert got.threads == 2


def test_load_from_other_programs_marks_the_timing_unreliable(pair, monkeypatch) -> None:
    loaded, int8 = pair

    class Busy:
        def start(self) -> Busy:
            return self

        def stop(self) -> float:
            return 1.5  # cores other programs used meanwhile

    monkeypatch.setattr(continuation, "LoadWatch", Busy)
    monkeypatch.setattr(continuation, "usable_cores", lambda: 2)
    got = continuation_pair(loaded.model, int8, loaded.tokenizer, "The dog", 3, 64, threads=2)
    assert got.noisy and got.noise == ("other programs used 1.5 cores meanwhile",)
    assert got.noise_text().endswith("another program is using the CPU: close it"), "the lab has no Threads to lower"
    monkeypatch.setattr(continuation, "usable_cores", lambda: 4)  # two cores left free take the load
    assert not continuation_pair(loaded.model, int8, loaded.tokenizer, "The dog", 3, 64, threads=2).noisy


def test_a_long_prompt_is_cut_to_leave_room_for_the_continuation(pair) -> None:
    loaded, int8 = pair
    long = continuation_pair(loaded.model, int8, loaded.tokenizer, "word " * 100, 10, 64, threads=1)
    assert len(long.fp32.token_ids) == len(long.int8.token_ids) == 10
    assert "truncated from the left" in long.note and "last 54 kept" in long.note


def test_generation_can_be_cancelled(pair) -> None:
    loaded, int8 = pair
    with pytest.raises(Cancelled):
        continuation_pair(loaded.model, int8, loaded.tokenizer, "The dog", 6, 64, threads=1, cancelled=lambda: True)


def test_the_first_divergence_is_marked_and_seeded_sampling_repeats(pair) -> None:
    loaded, int8 = pair
    same = continuation_pair(loaded.model, loaded.model, loaded.tokenizer, "The dog", 6, 64, threads=1)
    assert same.first_divergence is None and same.fp32.token_ids == same.int8.token_ids
    sampled = continuation_pair(loaded.model, int8, loaded.tokenizer, "Once upon", 8, 64, 1, temperature=1.0, seed=3)
    again = continuation_pair(loaded.model, int8, loaded.tokenizer, "Once upon", 8, 64, 1, temperature=1.0, seed=3)
    assert sampled.fp32.token_ids == again.fp32.token_ids, "seeded sampling is reproducible"
    if sampled.first_divergence is not None:
        i = sampled.first_divergence
        assert sampled.fp32.token_ids[:i] == sampled.int8.token_ids[:i]
        assert sampled.fp32.token_ids[i] != sampled.int8.token_ids[i]
