"""The benchmark measures every variant and reports sizes honestly (figures are printed, not asserted)."""

from __future__ import annotations

import json
from pathlib import Path

import pytest

from gpt2q_desktop.cli import main
from gpt2q_desktop.core.bench import (
    VARIANTS,
    bench_model,
    render_bench,
    streamed_bytes_per_token,
)


def test_bench_model_rows(tiny_checkpoint: Path) -> None:
    rows = bench_model("tiny", tiny_checkpoint, [4], threads=1, repeats=2, warmup=0, log=lambda s: None)
    assert [r.variant for r in rows] == list(VARIANTS)
    by = {r.variant: r for r in rows}
    for r in rows:  # each ratio is FP32's median over the row's own (decode steps: over FP32's decode step)
        assert r.ratio_vs_fp32_full == pytest.approx(by["fp32_full"].median_ms / r.median_ms)
        assert r.ratio_vs_fp32_last == pytest.approx(by["fp32_last"].median_ms / r.median_ms)
    assert by["int8_decode"].extra["ratio_vs_fp32_decode"] == pytest.approx(
        by["fp32_decode"].median_ms / by["int8_decode"].median_ms
    )
    assert by["int8"].bytes < 0.3 * by["fp32_full"].bytes
    assert by["int8_seed"].bytes > by["fp32_full"].bytes, "the seed recipe stores lm_head twice"
    assert by["int8_decode"].prompt_tokens == 1 and by["int8"].prompt_tokens == 4
    assert by["int8"].extra["cache_load_s"] > 0 and by["int8"].extra["quantize_s"] > 0
    assert 0 < by["int8"].extra["model_rss_mb"] < by["int8"].extra["peak_rss_mb"]
    assert all(r.median_ms > 0 and r.p90_ms >= r.median_ms for r in rows)
    table = render_bench(rows, bandwidth_gbs=10.0)
    assert table.count("\n") == len(VARIANTS) + 2 and "floor" in table


def test_streamed_bytes_shrink_fourfold(tiny_model) -> None:
    from gpt2q_desktop.core.options import RecipeOptions
    from gpt2q_desktop.core.recipe import DynamicInt8Recipe

    int8 = DynamicInt8Recipe().quantize(tiny_model, RecipeOptions())
    assert streamed_bytes_per_token(tiny_model) == 4 * streamed_bytes_per_token(int8)


def test_bench_cli_json_keys(monkeypatch, capsys, tiny_checkpoint: Path) -> None:
    import gpt2q_desktop.core.bench as bench
    from gpt2q_desktop.core.synthetic import make_gpt2

    monkeypatch.setattr(bench, "make_gpt2", lambda n: make_gpt2(n, n_embd=64, n_head=2, n_positions=64))
    code = main(["bench", "--layers", "1", "--prompt-tokens", "8", "--repeats", "1", "--warmup", "0", "--threads", "1", "--no-demo", "--json"])
    rows = json.loads(capsys.readouterr().out)
    assert code == 0 and {r["variant"] for r in rows} == set(VARIANTS)
    assert all({"layers", "prompt_tokens", "variant", "median_ms", "p90_ms", "bytes"} <= set(r) for r in rows)
