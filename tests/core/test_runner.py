"""Prompts, next-token prediction, timing statistics, metrics and reports."""

from __future__ import annotations

import csv
import io
import json

import pytest
import torch

from gpt2q_desktop.core.checkpoints.checkpoint import load_checkpoint
from gpt2q_desktop.core.errors import PromptError
from gpt2q_desktop.core.measure.compare import compare_encoded
from gpt2q_desktop.core.measure.inference import (
    encode_prompt,
    last_logits,
    time_interleaved,
)
from gpt2q_desktop.core.measure.metrics import kl_divergence, percentile, speedup, topk_overlap
from gpt2q_desktop.core.measure.render import COLUMNS, FORMATS, render, summary
from gpt2q_desktop.core.options import RecipeOptions, RunSettings
from gpt2q_desktop.core.text import visible_token
from gpt2q_desktop.core.torch_int8.recipe import DynamicInt8Recipe

FAST = RunSettings(repeats=3, warmup=1, threads=1, top_k=5)


def _compare(loaded, int8, text: str):
    """FP32 versus INT8 on *text*, as the session does it (64 positions: the fixtures' context)."""
    return compare_encoded([(loaded.model, int8)], loaded.tokenizer, encode_prompt(loaded.tokenizer, text, 64), FAST)[0]


@pytest.fixture(scope="module")
def pair(trained_checkpoint):
    loaded = load_checkpoint(trained_checkpoint)
    return loaded, DynamicInt8Recipe().quantize(loaded.model, RecipeOptions(per_channel=True))


@pytest.mark.parametrize("text", ["", "   ", "\n\t"])
def test_empty_prompts_are_refused(pair, text: str) -> None:
    with pytest.raises(PromptError, match="empty"):
        encode_prompt(pair[0].tokenizer, text, 64)


def test_long_prompt_is_truncated_from_the_left(pair) -> None:
    tok = pair[0].tokenizer
    text = "one two three four five six seven eight nine ten " * 20
    enc = encode_prompt(tok, text, 64)
    assert enc.tokens == 64 and enc.truncated and "truncated from the left" in enc.note()
    assert enc.ids[0].tolist() == tok(text)["input_ids"][-64:]


def test_huge_prompt_is_clipped_before_tokenizing(pair) -> None:
    enc = encode_prompt(pair[0].tokenizer, "word " * 200_000, 64)
    assert enc.tokens == 64 and enc.clipped_chars and "over" in enc.note()


def test_unicode_prompt_round_trips(pair) -> None:
    tok = pair[0].tokenizer
    enc = encode_prompt(tok, "今天天气很好 🌤️ and", 64)
    assert not enc.truncated and tok.decode(enc.ids[0].tolist()) == "今天天气很好 🌤️ and"


def test_only_last_position_logits_are_computed(pair) -> None:
    model = pair[0].model
    ids = torch.tensor([[464, 3290, 318, 4171]])
    with torch.inference_mode():
        out = model(input_ids=ids, logits_to_keep=1, use_cache=False)
        full = model(input_ids=ids, use_cache=False)
    assert out.logits.shape == (1, 1, 50257)
    torch.testing.assert_close(last_logits(model, ids), full.logits[0, -1], rtol=0, atol=1e-5)


def test_visible_tokens_never_vanish() -> None:
    assert visible_token(" the") == "␣the"
    assert visible_token("\n\n") == "↵↵"
    assert visible_token("\t") == "→"
    assert visible_token("") == "∅"
    assert visible_token("猫") == "猫"


def test_percentiles_and_speedup() -> None:
    assert percentile([3.0, 1.0, 2.0], 50) == 2.0
    assert percentile(list(map(float, range(1, 11))), 90) == pytest.approx(9.1)
    assert speedup(30.0, 10.0) == 3.0
    with pytest.raises(ValueError):
        percentile([], 50)


def test_kl_and_overlap() -> None:
    a = torch.tensor([3.0, 1.0, 0.0, -1.0, -2.0, -3.0])
    assert kl_divergence(a, a) == 0.0
    assert kl_divergence(a, a.flip(0)) > 1.0
    assert topk_overlap(a, a, 5) == 1.0
    assert topk_overlap(a, a.flip(0), 2) == 0.0


def test_timing_collects_every_repeat(pair) -> None:
    ids = torch.tensor([[464, 3290]])
    (t_a, t_b), _ = time_interleaved([pair[0].model, pair[1]], ids, RunSettings(repeats=5, warmup=0, threads=1))
    assert len(t_a.samples_ms) == len(t_b.samples_ms) == 5
    assert 0 < t_a.median_ms <= t_a.p90_ms <= max(t_a.samples_ms)


@pytest.mark.parametrize("warmup", [0, 2])
def test_a_compare_reads_the_next_tokens_from_its_timed_calls(pair, warmup: int) -> None:
    """No call is made for the logits alone: they are those of each model's first call, warm-up or timed."""
    loaded, int8 = pair
    calls: list[int] = []
    hooks = [m.register_forward_hook(lambda *args, i=i: calls.append(i)) for i, m in enumerate((loaded.model, int8))]
    settings = RunSettings(repeats=3, warmup=warmup, threads=1, top_k=3)
    try:
        row = compare_encoded([(loaded.model, int8)], loaded.tokenizer, encode_prompt(loaded.tokenizer, "The cat", 64), settings)[0]
    finally:
        for hook in hooks:
            hook.remove()
    assert calls == [0, 1] * (3 + warmup), "both models called in turn, each call timed or a warm-up"
    ids = torch.tensor([loaded.tokenizer("The cat")["input_ids"]])
    p, q = last_logits(loaded.model, ids), last_logits(int8, ids)
    assert [t.token_id for t in row.fp32.top] == p.topk(3).indices.tolist()
    assert [t.token_id for t in row.int8.top] == q.topk(3).indices.tolist()
    assert row.kl == kl_divergence(p, q)


def test_invalid_settings_are_refused() -> None:
    with pytest.raises(PromptError):
        RunSettings(repeats=0)


def test_compare_agrees_on_a_trained_fixture(pair) -> None:
    loaded, int8 = pair
    rows = [_compare(loaded, int8, p) for p in ("The cat sat on the", "The sky is")]
    for row in rows:
        assert row.agree and row.kl < 0.05 and row.top5_overlap >= 0.6
        expected = int(last_logits(loaded.model, encode_prompt(loaded.tokenizer, row.prompt, 64).ids).argmax())
        assert row.fp32.token_id == expected
        assert row.fp32.prob > 0.1, "a trained fixture is peaked (uniform would be 2e-5)"
        assert len(row.fp32.top) == 5 and row.fp32.top[0].prob >= row.fp32.top[1].prob
    assert rows[0].fp32.token == " mat"


def test_reports_in_every_format(pair) -> None:
    loaded, int8 = pair
    rows = [_compare(loaded, int8, p) for p in ("The cat sat on the", 'a "quoted", | piped\nprompt')]
    data = json.loads(render(rows, "json"))
    assert [set(d) >= {"prompt", "fp32", "int8", "agree", "kl", "speedup"} for d in data] == [True, True]
    assert set(data[0]["fp32"]) >= {"token", "token_id", "prob", "median_ms", "p90_ms"}
    parsed = list(csv.DictReader(io.StringIO(render(rows, "csv"))))
    assert [r["prompt"] for r in parsed] == [r.prompt for r in rows] and list(parsed[0]) == list(COLUMNS)
    md = render(rows, "markdown").splitlines()
    assert len(md) == 4 and md[0].startswith("| prompt") and "\\|" in md[3]
    table = render(rows, "table")
    assert "␣mat" in table and "×" in table
    assert "top-1 agreement 2/2" in summary(rows)
    assert set(FORMATS) == {"table", "json", "csv", "markdown"}



def test_the_table_stays_aligned_with_wide_characters(pair) -> None:
    """Every row's ``agree`` cell starts at the same terminal column (CJK characters take two)."""
    import unicodedata

    def columns(text: str) -> int:
        return sum(2 if unicodedata.east_asian_width(ch) in "WF" else 1 for ch in text)

    loaded, int8 = pair
    rows = [_compare(loaded, int8, p) for p in ("天空是", "The cat sat on the")]
    lines = render(rows, "table").splitlines()[2:]
    starts = {columns(line[: max(line.find(" yes "), line.find(" NO "))]) for line in lines}
    assert len(starts) == 1, lines
