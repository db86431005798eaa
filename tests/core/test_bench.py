"""The benchmark measures every variant and reports sizes honestly (figures are printed, not asserted)."""

from __future__ import annotations

import json
from pathlib import Path

import pytest

from gpt2q_desktop.cli.main import main
from gpt2q_desktop.core.bench.ort_variants import ORT_VARIANTS, TORCH_TWIN
from gpt2q_desktop.core.bench.probes import streamed_bytes_per_token
from gpt2q_desktop.core.bench.run import VARIANTS, bench_model
from gpt2q_desktop.core.bench.serving_memory import serving_memory_mb
from gpt2q_desktop.core.bench.table import BenchRow, render_bench
from gpt2q_desktop.core.options import RecipeOptions
from gpt2q_desktop.core.torch_int8.kernels import chosen_kernels

UNPROBED = "not measured: the same probe as the per-tensor INT8 model's, measured beside it"


@pytest.fixture(scope="module")
def tiny_rows(trained_checkpoint: Path, _built_onnx_cache: Path) -> list[BenchRow]:
    """Every variant of the bench on the trained checkpoint. The default recipe's ONNX graphs come from the test
    session's build and the per-channel one is built in this process (the build child has tests of its own); the
    serving memory of the per-tensor INT8 model is measured in a fresh process, the other models' (the same probe,
    whose FP32 branch has a test of its own) are not."""
    from gpt2q_desktop.core.bench import run
    from gpt2q_desktop.core.ort import pipeline
    from tests.conftest import in_process_build, session_graph_build

    def memory(folder, options, data_dir, threads):
        return serving_memory_mb(folder, options, data_dir, threads) if options == RecipeOptions() else UNPROBED

    with pytest.MonkeyPatch.context() as mp:
        mp.setattr(pipeline, "run_build", session_graph_build(_built_onnx_cache, trained_checkpoint, in_process_build))
        mp.setattr(run, "serving_memory_mb", memory)
        return bench_model("tiny", trained_checkpoint, [4], threads=1, repeats=2, warmup=0, log=lambda s: None)


@pytest.mark.slow  # every variant of the bench built and timed, ONNX Runtime's and the plain recipe's included
def test_bench_model_rows(tiny_rows: list[BenchRow]) -> None:
    rows = tiny_rows
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
    assert by["fp32_full"].extra["serving_memory"] == by["int8_decode"].extra["serving_memory"] == UNPROBED
    assert all(r.median_ms > 0 and r.p90_ms >= r.median_ms for r in rows)
    assert {r.variant: r.kernels for r in rows if r.kernels} == dict.fromkeys(
        ("int8_seed", "int8", "int8_per_channel", "int8_decode"), chosen_kernels()
    ), "the kernels of PyTorch's INT8 variants, and only theirs"
    table = render_bench(rows, bandwidth_gbs=10.0, threads=2)
    noisy = any(r.noisy for r in rows)  # a busy machine adds the line that says so, and only then
    assert table.count("\n") == len(VARIANTS) + 2 + noisy and "floor" in table
    assert ("NOISY rows: timing unreliable" in table) == noisy


def test_bench_ort_rows(tiny_rows: list[BenchRow]) -> None:
    by = {r.variant: r for r in tiny_rows}
    for variant in ORT_VARIANTS:
        r = by[variant]
        assert r.extra["ratio_vs_torch"] == pytest.approx(by[TORCH_TWIN[variant]].median_ms / r.median_ms)
        assert r.prompt_tokens == (1 if variant.endswith("_decode") else 4)
    for variant in ("ort_fp32", "ort_fp32_decode"):  # ONNX Runtime FP32 predicts what torch FP32 predicts
        assert by[variant].extra["top1_agree"] == by[variant].extra["top1_of"] > 0
        assert by[variant].extra["max_abs_diff"] < 1e-3
    for variant in ("ort_int8", "ort_int8_per_channel", "ort_int8_decode"):
        assert by[variant].extra["int8_matmuls"] == by[variant].extra["weight_matmuls"] == 9
        assert by[variant].bytes <= 0.3 * by["ort_fp32"].bytes
    assert by["ort_int8"].extra["cache_load_s"] > 0 and by["ort_int8"].extra["quantize_s"] > 0
    assert by["ort_fp32_decode"].bytes == by["ort_fp32"].bytes and by["ort_int8_decode"].bytes == by["ort_int8"].bytes
    table = render_bench(tiny_rows, bandwidth_gbs=10.0, threads=2)
    assert "top-1 = torch FP32 on 8/8 prompts" in table and "9/9 weight MatMuls INT8" in table


def test_bench_times_the_plain_recipe_beside_the_tools(tiny_rows: list[BenchRow]) -> None:
    by = {r.variant: r for r in tiny_rows}
    for plain, rivals in (("ort_int8_plain", ("int8", "int8_per_channel", "ort_int8", "ort_int8_per_channel")),
                          ("ort_int8_plain_decode", ("int8_decode", "ort_int8_decode"))):  # fmt: skip
        fastest = min(rivals, key=lambda k: by[k].median_ms)
        assert by[plain].extra["fastest_vs_plain"] == pytest.approx(by[plain].median_ms / by[fastest].median_ms)
        assert f"this tool's fastest INT8 ({fastest}) " in render_bench([by["fp32_full"], by[plain]], 10.0, 2)
        assert by[plain].extra["top1_of"] == 8 and by[plain].prompt_tokens == (1 if plain.endswith("_decode") else 4)
    # the plain recipe stores the vocabulary matrix twice (untied lm_head and the embedding)
    assert by["ort_int8_plain"].bytes > 1.5 * by["ort_int8"].bytes


def test_the_memory_probe_serves_fp32_as_loaded(tiny_checkpoint: Path, data_dir: Path, capsys) -> None:
    """The probe's FP32 branch, run in this process (the bench runs it in a fresh one): memory before and after."""
    import torch

    from gpt2q_desktop.core.bench.serving_memory import memory_probe

    threads = torch.get_num_threads()
    try:
        memory_probe(str(tiny_checkpoint), None, str(data_dir), 1)
    finally:
        torch.set_num_threads(threads)
    figures = json.loads(capsys.readouterr().out)
    assert 0 < figures["base_mb"] <= figures["peak_mb"]


def test_streamed_bytes_shrink_fourfold(tiny_model) -> None:
    from gpt2q_desktop.core.torch_int8.recipe import DynamicInt8Recipe

    int8 = DynamicInt8Recipe().quantize(tiny_model, RecipeOptions())
    assert streamed_bytes_per_token(tiny_model) == 4 * streamed_bytes_per_token(int8)


def test_bench_cli_json_keys(monkeypatch, capsys, tiny_rows: list[BenchRow]) -> None:
    from gpt2q_desktop.core.bench import run as bench
    from gpt2q_desktop.core.checkpoints.synthetic import make_gpt2

    monkeypatch.setattr(bench, "make_gpt2", lambda n: make_gpt2(n, n_embd=64, n_head=2, n_positions=64))
    monkeypatch.setattr(bench, "bench_model", lambda *a, **k: tiny_rows)  # timed above; here the CLI's output
    code = main(["bench", "--layers", "1", "--prompt-tokens", "8", "--repeats", "1", "--warmup", "0", "--threads", "1", "--no-demo", "--json"])
    rows = json.loads(capsys.readouterr().out)
    assert code == 0 and [r["variant"] for r in rows] == list(VARIANTS)
    assert all({"layers", "prompt_tokens", "variant", "median_ms", "p90_ms", "bytes", "kernels"} <= set(r) for r in rows)
    assert {"top1_agree", "top1_of", "ratio_vs_torch"} <= set(rows[VARIANTS.index("ort_fp32")]["extra"])


def test_a_noisy_timing_run_is_measured_again_then_marked(monkeypatch, tiny_checkpoint) -> None:
    from gpt2q_desktop.core.bench import run as bench
    from gpt2q_desktop.core.bench.table import render_bench

    spiky, steady = [10.0] * 8 + [90.0] * 2, [10.0] * 10
    calls: list[int] = []

    def timed(*args, **kwargs):
        calls.append(1)
        return {"int8": spiky if len(calls) < 3 else steady}, {}

    class Quiet:  # no other program on the machine: only the samples decide (other workers may be busy)
        def start(self) -> Quiet:
            return self

        def stop(self) -> float:
            return 0.0

    monkeypatch.setattr(bench, "LoadWatch", Quiet)
    monkeypatch.setattr(bench, "_prepare", lambda *a, **k: ({}, {"ort": None}, {}))
    monkeypatch.setattr(bench, "_time_variants", timed)
    monkeypatch.setattr(bench, "_rows", lambda *args: [args[-1]])  # the noise each run was judged to have
    assert bench.bench_model("m", tiny_checkpoint, [8], 1, 10, 0, lambda s: None, retries=1) == [
        {"int8": ("int8 p90 is 9.0× its median",)}
    ]
    assert len(calls) == 2
    calls.clear()
    assert bench.bench_model("m", tiny_checkpoint, [8], 1, 10, 0, lambda s: None, retries=5) == [{}]
    assert len(calls) == 3
    row = BenchRow("m", 1, 8, "int8", 10.0, 90.0, 100, noise="int8 p90 is 9.0× its median")
    assert row.as_dict()["noisy"] is True
    table = render_bench([BenchRow("m", 1, 8, "fp32_full", 10.0, 11.0, 400), row], 10.0, 2)
    assert "NOISY (int8 p90 is 9.0× its median)" in table and "--retries N" in table


class _WorkingSet:
    """Windows' ``K32GetProcessMemoryInfo``: a working set of 300 MiB, 450 MiB at its peak."""

    def GetCurrentProcess(self) -> int:  # noqa: N802 - Windows' name
        return -1

    def K32GetProcessMemoryInfo(self, process, counters, size) -> int:  # noqa: N802
        counters._obj.WorkingSetSize, counters._obj.PeakWorkingSetSize = 300 << 20, 450 << 20
        return 1


def test_serving_memory_is_measured_on_windows_and_never_a_zero_where_it_cannot_be(monkeypatch) -> None:
    """Off Linux there is no ``/proc``: Windows says its working set; where nothing says, the row says so."""
    import subprocess

    from gpt2q_desktop.core.bench import serving_memory
    from gpt2q_desktop.core.platforms import not_measured

    monkeypatch.setattr(serving_memory.sys, "platform", "win32")
    monkeypatch.setattr(serving_memory, "_kernel32", _WorkingSet)
    assert (serving_memory._rss_mb("VmRSS"), serving_memory._rss_mb("VmHWM")) == (300.0, 450.0)

    unmeasured = subprocess.CompletedProcess([], 0, stdout='{"base_mb": null, "peak_mb": null}\n', stderr="")
    monkeypatch.setattr(serving_memory.subprocess, "run", lambda *a, **k: unmeasured)
    assert serving_memory.serving_memory_mb(Path("m"), None, Path("d"), 1) == not_measured()
    row = BenchRow("m", 2, 4, "int8", 1.0, 1.0, 10, extra={"serving_memory": not_measured("win32")})
    table = render_bench([BenchRow("m", 2, 4, "fp32_full", 2.0, 2.0, 40), row], bandwidth_gbs=10.0, threads=1)
    assert "serving memory not measured on Windows" in table
