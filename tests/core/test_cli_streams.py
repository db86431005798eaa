"""What ``gpt2q`` writes survives the streams it is given: a terminal or pipe in cp1252 (Windows' default) gets
escapes instead of a crash, a reader that closes the pipe early ends the command quietly, a usage mistake is one
line, and an interrupt says what the cache holds."""

from __future__ import annotations

import csv
import io
import json
import os
import subprocess
import sys
from collections.abc import Iterator
from contextlib import contextmanager
from pathlib import Path

import pytest

from gpt2q_desktop.cli.main import main
from gpt2q_desktop.core.bench.table import BenchRow
from gpt2q_desktop.core.results import ComparisonRow, SideResult, Timing, TopToken
from gpt2q_desktop.core.store.history import HistoryStore
from gpt2q_desktop.core.torch_int8.kernels import chosen_kernels

FAST = ["--repeats", "2", "--warmup", "0", "--threads", "1"]


def _row(prompt: str) -> ComparisonRow:
    side = SideResult((TopToken(1, " Δ␣", 0.5),), Timing(1.0, 1.2, ()))
    return ComparisonRow(prompt, 3, "", side, side, 1e-4, 1.0, 1, 2, checkpoint="tiny-gpt2")


PROMPT = "天空是 Δ😀"
"""A prompt cp1252 cannot show: CJK, a Greek letter, and an emoji beyond the Basic Multilingual Plane."""


@contextmanager
def cp1252_streams() -> Iterator[io.BytesIO]:
    """stdout and stderr as a Windows pipe has them: cp1252, strict (set in the test's body: pytest sets its own for
    each phase); stdout's bytes are yielded."""
    raw, before = io.BytesIO(), (sys.stdout, sys.stderr)
    sys.stdout = io.TextIOWrapper(raw, encoding="cp1252", errors="strict", write_through=True)
    sys.stderr = io.TextIOWrapper(io.BytesIO(), encoding="cp1252", errors="strict", write_through=True)
    try:
        yield raw
    finally:
        for stream in (sys.stdout, sys.stderr):
            stream.flush()
            stream.detach()
        sys.stdout, sys.stderr = before


@pytest.fixture
def bench_rows(monkeypatch: pytest.MonkeyPatch) -> list[BenchRow]:
    """``gpt2q bench --layers 6 --no-demo`` without its minutes: rows that stand for run_bench's, for the CLI."""
    from gpt2q_desktop.core.bench import probes, run

    extra = {"quantize_s": 1.0, "cache_load_s": 0.1, "streamed_mb": 90.0, "ratio_vs_fp32_decode": 3.1}
    rows = [
        BenchRow("gpt2-6l", 6, 8, "fp32_full", 40.0, 44.0, 328_000_000, 1.0, 0.9),
        BenchRow("gpt2-6l", 6, 1, "int8_decode", 8.0, 9.0, 90_000_000, 5.0, 4.5, extra, kernels="fbgemm"),
    ]
    monkeypatch.setattr(run, "run_bench", lambda *args, **kwargs: rows)
    monkeypatch.setattr(probes, "read_bandwidth_gbs", lambda threads: 19.5)
    return rows


@pytest.mark.parametrize(
    ("argv", "escaped"),
    [
        (["compare", "--prompt", "I am", PROMPT, *FAST], "\\u5929\\u7a7a\\u662f \\u0394\\U0001f600"),
        (["compare", "--prompt", "I am", "--format", "markdown", *FAST], "\\u2423"),  # the visible space
        (["quantize"], "\\u2192"),  # FP32 … MB → INT8 … MB
        (["history"], "\\u0394"),
        (["history", "--format", "markdown"], "\\u0394"),
        (["cache", "list"], ""),
        (["eval", "--max-tokens", "64", "--threads", "1"], "\\u0394p"),
        (["sensitivity", "--max-tokens", "32", "--threads", "1"], ""),
        (["bench", "--layers", "6", "--no-demo"], "\\u2248"),  # read bandwidth ≈ …
    ],
    ids=lambda value: " ".join(value[:3]) if isinstance(value, list) else None,
)
def test_every_command_writes_to_a_cp1252_pipe(
    argv: list[str], escaped: str, trained_checkpoint: Path, bench_rows: list[BenchRow]
) -> None:
    """What cp1252 lacks (CJK, Δ, an emoji, the visible space ␣, arrows) comes out escaped; the rest as it is."""
    HistoryStore().add([_row("天空是 Δ")])
    if argv[0] in ("compare", "eval", "sensitivity", "quantize"):
        argv = [argv[0], str(trained_checkpoint), *argv[1:]]
    with cp1252_streams() as raw:
        assert main(argv) == 0
    text = raw.getvalue().decode("cp1252")
    assert text.strip() and escaped in text


@pytest.mark.parametrize(
    "argv",
    [
        ["compare", "--prompt", PROMPT, "--format", "json", *FAST],
        ["compare", "--prompt", PROMPT, "--format", "csv", *FAST],
        ["history", "--json"],
        ["history", "--format", "csv"],
        ["quantize", "--json"],
        ["eval", "--max-tokens", "64", "--threads", "1", "--json"],
        ["sensitivity", "--max-tokens", "32", "--threads", "1", "--json"],
        ["cache", "list", "--json"],
        ["bench", "--layers", "6", "--no-demo", "--json"],
    ],
    ids=" ".join,
)
def test_json_and_csv_through_a_cp1252_pipe_stay_exact_utf8(
    argv: list[str], trained_checkpoint: Path, bench_rows: list[BenchRow]
) -> None:
    """Data is written as UTF-8 bytes whatever the pipe's encoding: a prompt comes back exactly as it was typed."""
    HistoryStore().add([_row(PROMPT)])
    if argv[0] in ("compare", "eval", "sensitivity", "quantize"):
        argv = [argv[0], str(trained_checkpoint), *argv[1:]]
    with cp1252_streams() as raw:
        assert main(argv) == 0
    text = raw.getvalue().decode("utf-8")
    if "csv" in argv:
        assert [line["prompt"] for line in csv.DictReader(io.StringIO(text))] == [PROMPT]
    else:
        value = json.loads(text)
        if argv[0] in ("compare", "history"):
            assert [row["prompt"] for row in value] == [PROMPT]
        if argv[0] in ("compare", "quantize", "eval"):  # the INT8 kernels PyTorch ran on
            assert (value[0] if argv[0] == "compare" else value)["kernels"] == chosen_kernels()


def test_a_real_cp1252_pipe_gets_escapes(tiny_checkpoint: Path) -> None:
    env = dict(os.environ, PYTHONIOENCODING="cp1252")
    args = [sys.executable, "-m", "gpt2q_desktop.cli", "compare", str(tiny_checkpoint), "--prompt", "天空是", *FAST]
    proc = subprocess.run(args, capture_output=True, env=env, timeout=300)
    assert proc.returncode == 0, proc.stderr.decode("cp1252", "replace")
    assert "\\u5929\\u7a7a\\u662f" in proc.stdout.decode("cp1252")


def test_a_reader_that_goes_away_ends_the_command_quietly() -> None:
    HistoryStore().add([_row(f"prompt number {i} " + "x" * 200) for i in range(2000)])
    proc = subprocess.Popen(
        [sys.executable, "-m", "gpt2q_desktop.cli", "history"], stdout=subprocess.PIPE, stderr=subprocess.PIPE
    )
    assert proc.stdout is not None and proc.stdout.readline()  # like `| head -1`
    proc.stdout.close()
    _, err = proc.communicate(timeout=120)
    assert proc.returncode == 0 and err.decode() == "", err.decode()


def test_a_usage_mistake_is_one_line(capsys) -> None:
    with pytest.raises(SystemExit) as stopped:
        main(["compare", "--repeats", "0", "--prompt", "x"])
    assert stopped.value.code == 2
    lines = capsys.readouterr().err.splitlines()
    assert lines == ["gpt2q compare: error: argument --repeats: must be at least 1: 0 (see gpt2q compare --help)"]


def test_a_refused_prompt_is_the_only_line(capsys) -> None:
    """The prompt is checked before the checkpoint opens: no summary line comes before the error."""
    assert main(["compare", "--prompt", "  "]) == 2
    assert capsys.readouterr().err.splitlines() == ["gpt2q: error: The prompt is empty: type some text to predict its next token."]


def test_an_interrupt_says_what_the_cache_holds(monkeypatch, capsys) -> None:
    from gpt2q_desktop.cli import main as main_module

    def interrupted(args, out) -> int:
        raise KeyboardInterrupt

    monkeypatch.setitem(main_module.COMMANDS, "cache", interrupted)
    assert main(["cache", "list"]) == 130
    said = capsys.readouterr().err.strip()
    assert said == "gpt2q: cancelled; the cache holds only complete entries (written whole or not at all)."
