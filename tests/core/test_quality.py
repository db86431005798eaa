"""Quality lab: corpus figures, per-layer sensitivity, and their CLI."""

from __future__ import annotations

import json
import math
from pathlib import Path

import pytest
import torch

from gpt2q_desktop.cli.main import main
from gpt2q_desktop.core.checkpoints.checkpoint import load_checkpoint
from gpt2q_desktop.core.errors import Cancelled, Gpt2qError
from gpt2q_desktop.core.measure.quality import (
    KL_BINS,
    evaluate_text,
    layer_sensitivity,
    read_text,
)
from gpt2q_desktop.core.options import RecipeOptions
from gpt2q_desktop.core.torch_int8.recipe import DynamicInt8Recipe
from tests.conftest import TRAIN_TEXT


@pytest.fixture(scope="module")
def pair(trained_checkpoint):
    loaded = load_checkpoint(trained_checkpoint)
    return loaded, DynamicInt8Recipe().quantize(loaded.model, RecipeOptions(per_channel=True))


def test_corpus_figures_against_a_direct_computation(pair) -> None:
    loaded, int8 = pair
    result = evaluate_text(loaded.model, int8, loaded.tokenizer, iter([TRAIN_TEXT]), window=64, max_tokens=63)
    ids = torch.tensor([loaded.tokenizer(TRAIN_TEXT)["input_ids"][:64]])
    with torch.inference_mode():
        nll = torch.nn.functional.cross_entropy(loaded.model(input_ids=ids).logits[0, :-1], ids[0, 1:])
    assert result.tokens == 63
    assert result.ppl_fp32 == pytest.approx(math.exp(float(nll)), rel=1e-4)
    assert result.ppl_fp32 < 50, "the fixture was trained on this text"
    assert 0 <= result.kl_median <= result.kl_p99 <= result.kl_max and result.kl_mean < 0.05
    assert result.top1_agreement > 0.9 and sum(result.kl_histogram) == 63
    assert len(result.kl_histogram) == len(KL_BINS) + 1
    assert result.delta_p["p1"] <= result.delta_p["p50"] <= result.delta_p["p99"]


def test_identical_models_have_zero_kl(pair) -> None:
    loaded, _ = pair
    result = evaluate_text(loaded.model, loaded.model, loaded.tokenizer, iter([TRAIN_TEXT]), 64, 100)
    assert result.kl_max == 0.0 and result.top1_agreement == 1.0 and result.ppl_fp32 == result.ppl_int8


def test_progress_ends_full_when_the_text_ends_before_the_token_budget(pair) -> None:
    loaded, int8 = pair
    seen: list[tuple[int, int]] = []
    result = evaluate_text(
        loaded.model, int8, loaded.tokenizer, iter([TRAIN_TEXT]), 64, 20_000, lambda d, t, m: seen.append((d, t))
    )
    assert seen[-1] == (result.tokens, result.tokens) and all(t == 20_000 for _, t in seen[:-1])


def test_evaluation_streams_chunks_and_cancels(pair, tmp_path: Path) -> None:
    loaded, int8 = pair
    big = tmp_path / "big.txt"
    big.write_text(TRAIN_TEXT * 200)
    chunks = read_text(big)
    result = evaluate_text(loaded.model, int8, loaded.tokenizer, chunks, 64, max_tokens=200)
    assert result.tokens == 200
    with pytest.raises(Cancelled):
        evaluate_text(loaded.model, int8, loaded.tokenizer, read_text(big), 64, 200, cancelled=lambda: True)
    with pytest.raises(Gpt2qError, match="does not exist"):
        list(read_text(tmp_path / "missing.txt"))
    with pytest.raises(Gpt2qError, match="too short"):
        evaluate_text(loaded.model, int8, loaded.tokenizer, iter(["Hi"]), 64)


def test_sensitivity_ranks_every_block(pair) -> None:
    loaded, _ = pair
    scores = layer_sensitivity(loaded.model, loaded.tokenizer, TRAIN_TEXT, 64, 63)
    assert sorted(s.layer for s in scores) == ["block 0", "block 1", "lm_head + embeddings"]
    assert [s.kl_mean for s in scores] == sorted((s.kl_mean for s in scores), reverse=True)
    assert all(s.block == (int(s.layer.split()[1]) if s.layer.startswith("block") else None) for s in scores)


def test_sensitivity_stops_inside_a_part_when_cancelled(pair) -> None:
    loaded, _ = pair
    checks, steps = iter(range(1000)), []
    with pytest.raises(Cancelled):
        layer_sensitivity(
            loaded.model, loaded.tokenizer, TRAIN_TEXT, 64, 63,
            progress=lambda done, total, message: steps.append(message), cancelled=lambda: next(checks) >= 1,
        )  # fmt: skip
    assert steps == ["measuring block 0"]


def test_eval_cli_matches_core(trained_checkpoint: Path, tmp_path: Path, capsys) -> None:
    text = tmp_path / "t.txt"
    text.write_text(TRAIN_TEXT)
    assert main(["eval", str(trained_checkpoint), "--text", str(text), "--max-tokens", "63", "--threads", "1", "--json"]) == 0
    cli = json.loads(capsys.readouterr().out)
    loaded = load_checkpoint(trained_checkpoint)
    int8 = DynamicInt8Recipe().quantize(loaded.model, RecipeOptions())
    core = evaluate_text(loaded.model, int8, loaded.tokenizer, read_text(text), 64, 63)
    assert cli["tokens"] == core.tokens and cli["ppl_int8"] == pytest.approx(core.ppl_int8, rel=1e-6)
    assert cli["kl_mean"] == pytest.approx(core.kl_mean, rel=1e-6)


def test_sensitivity_cli_json(trained_checkpoint: Path, tmp_path: Path, capsys) -> None:
    text = tmp_path / "t.txt"
    text.write_text(TRAIN_TEXT)
    assert main(["sensitivity", str(trained_checkpoint), "--text", str(text), "--max-tokens", "32", "--threads", "1", "--json"]) == 0
    ranking = json.loads(capsys.readouterr().out)
    assert len(ranking) == 3 and {"layer", "kl_mean", "top1_agreement"} <= set(ranking[0])
