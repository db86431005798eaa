"""What ``gpt2q`` writes survives the streams it is given: a terminal or pipe in cp1252 (Windows' default) gets
escapes instead of a crash, a reader that closes the pipe early ends the command quietly, a usage mistake is one
line, and an interrupt says what the cache holds."""

from __future__ import annotations

import io
import os
import subprocess
import sys
from collections.abc import Iterator
from contextlib import contextmanager
from pathlib import Path

import pytest

from gpt2q_desktop.cli.main import main
from gpt2q_desktop.core.results import ComparisonRow, SideResult, Timing, TopToken
from gpt2q_desktop.core.store.history import HistoryStore

FAST = ["--repeats", "2", "--warmup", "0", "--threads", "1"]


def _row(prompt: str) -> ComparisonRow:
    side = SideResult((TopToken(1, " Δ␣", 0.5),), Timing(1.0, 1.2, ()))
    return ComparisonRow(prompt, 3, "", side, side, 1e-4, 1.0, 1, 2, checkpoint="tiny-gpt2")


@contextmanager
def cp1252_stdout() -> Iterator[io.BytesIO]:
    """stdout as a Windows pipe has it: cp1252, strict (set in the test's body: pytest sets its own for each phase)."""
    raw, before = io.BytesIO(), sys.stdout
    sys.stdout = io.TextIOWrapper(raw, encoding="cp1252", errors="strict", write_through=True)
    try:
        yield raw
    finally:
        sys.stdout.flush()
        sys.stdout.detach()
        sys.stdout = before


@pytest.mark.parametrize(
    ("argv", "escaped"),
    [
        (["compare", "--prompt", "I am", "天空是", *FAST], "\\u5929\\u7a7a\\u662f"),
        (["compare", "--prompt", "I am", "--format", "markdown", *FAST], "\\u2423"),  # the visible space
        (["history"], "\\u0394"),
        (["history", "--format", "markdown"], "\\u0394"),
        (["cache", "list"], ""),
        (["eval", "--max-tokens", "64", "--threads", "1"], "\\u0394p"),
        (["sensitivity", "--max-tokens", "32", "--threads", "1"], ""),
    ],
    ids=lambda value: " ".join(value[:3]) if isinstance(value, list) else None,
)
def test_every_command_writes_to_a_cp1252_pipe(argv: list[str], escaped: str, trained_checkpoint: Path) -> None:
    """What cp1252 lacks (CJK, Δ, the visible space ␣) comes out escaped; the rest as it is."""
    HistoryStore().add([_row("天空是 Δ")])
    if argv[0] in ("compare", "eval", "sensitivity"):
        argv = [argv[0], str(trained_checkpoint), *argv[1:]]
    with cp1252_stdout() as raw:
        assert main(argv) == 0
    text = raw.getvalue().decode("cp1252")
    assert text.strip() and escaped in text


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
