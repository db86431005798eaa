"""Hostile prompts: BOMs, odd line breaks, invalid Unicode, terminal escapes, and very long prompt lists."""

from __future__ import annotations

import io
import json
import os
from pathlib import Path

import pytest

from gpt2q_desktop.cli.main import main
from gpt2q_desktop.cli.output import StderrProgress
from gpt2q_desktop.core.options import RecipeOptions, RunSettings
from gpt2q_desktop.core.session import Session
from gpt2q_desktop.core.text import printable, read_prompts, time_left
from tests.platform_marks import make_fifo

FAST = ["--repeats", "2", "--warmup", "0", "--threads", "1"]
RAW = ("\x07", "\x1b", "\u202e")
HOSTILE = "\x07\x1b[31m\u202e The cat sat on the"


def run(argv: list[str], capsys: pytest.CaptureFixture[str]) -> tuple[int, str, str]:
    code = main(argv)
    captured = capsys.readouterr()
    return code, captured.out, captured.err


def _file(tmp_path: Path, data: bytes) -> Path:
    path = tmp_path / "prompts.txt"
    path.write_bytes(data)
    return path


def test_a_bom_is_not_part_of_the_first_prompt(tmp_path: Path) -> None:
    plain = read_prompts(_file(tmp_path, b"The cat sat on the\nThe sky is\n"))
    assert read_prompts(_file(tmp_path, b"\xef\xbb\xbfThe cat sat on the\nThe sky is\n")) == plain
    assert plain[0] == "The cat sat on the"


def test_only_newlines_end_a_prompt(tmp_path: Path) -> None:
    line = "a\x0bb\x0cc\x1cd\x85e\u2028f\rg"
    assert read_prompts(_file(tmp_path, (line + "\nsecond\n").encode())) == [line, "second"]


def test_crlf_files_leave_no_carriage_return(tmp_path: Path) -> None:
    prompts = read_prompts(_file(tmp_path, b"one\r\ntwo\r\n\r\nthree"))
    assert prompts == ["one", "two", "three"]


def test_a_lone_surrogate_is_refused_with_its_position(tiny_checkpoint: Path, capsys) -> None:
    prompt = os.fsdecode(b"ab\xffc")  # how Python hands over a command-line argument that is not UTF-8
    assert prompt == "ab\udcffc"
    code, out, err = run(["compare", str(tiny_checkpoint), "--prompt", prompt, *FAST], capsys)
    lines = [line for line in err.splitlines() if line.startswith("gpt2q: error:")]
    assert code == 2 and out == "" and "Traceback" not in err
    assert len(lines) == 1 and "character 3" in lines[0] and "U+DCFF" in lines[0]
    assert "\udcff" not in err


def test_terminal_output_shows_controls_visibly(tiny_checkpoint: Path, tmp_path: Path, capsys) -> None:
    prompts = _file(tmp_path, (HOSTILE + "\n").encode())
    for fmt in ("table", "markdown"):
        code, out, err = run(["compare", str(tiny_checkpoint), "--prompts-file", str(prompts), "--format", fmt, *FAST], capsys)
        assert code == 0, err
        assert not any(ch in out or ch in err for ch in RAW)
        assert "␇␛[31m<U+202E>" in out
    code, _, err = run(["compare", str(tiny_checkpoint), "--prompts-file", str(tmp_path / "no\x07such\u202e.txt")], capsys)
    assert code == 2 and not any(ch in err for ch in RAW) and "no␇such<U+202E>.txt" in err


def test_json_and_csv_keep_the_exact_prompt(tiny_checkpoint: Path, tmp_path: Path, capsys) -> None:
    prompts = _file(tmp_path, (HOSTILE + "\n").encode())
    code, out, _ = run(["compare", str(tiny_checkpoint), "--prompts-file", str(prompts), "--format", "json", *FAST], capsys)
    assert code == 0 and json.loads(out)[0]["prompt"] == HOSTILE
    code, out, _ = run(["compare", str(tiny_checkpoint), "--prompts-file", str(prompts), "--format", "csv", *FAST], capsys)
    assert code == 0 and HOSTILE in out


def test_printable_escapes_controls_bidi_and_surrogates() -> None:
    assert printable("a\x07b\x1b[0m\x7f\x85\u2028\u202e\udc80\n") == "a␇b␛[0m␡<U+0085><U+2028><U+202E><U+DC80>␊"
    assert printable("héllo 你好 😀 👨‍👩‍👧") == "héllo 你好 😀 👨‍👩‍👧"


def test_compare_progress_gives_count_and_eta(tiny_checkpoint: Path) -> None:
    session = Session()
    session.open(tiny_checkpoint)
    messages: list[str] = []
    prompts = [f"The number {n} is" for n in range(6)]
    rows = list(session.compare(prompts, RecipeOptions(), RunSettings(repeats=1, warmup=0, threads=1, top_k=3),
                                progress=lambda done, total, message: messages.append(message)))  # fmt: skip
    assert len(rows) == 6
    running = [m for m in messages if m.startswith("Running prompt")]
    assert running[0] == "Running prompt 1 of 6"
    assert any("of 6" in m and "left" in m for m in running)
    assert time_left(42) == "about 42 s left" and time_left(130) == "about 2 min left"
    assert time_left(3900) == "about 1 h 5 min left"


def test_non_tty_progress_writes_a_few_lines_not_one_per_step() -> None:
    stream = io.StringIO()
    progress = StderrProgress(stream)
    for done in range(10_001):
        progress(done, 10_000, f"Running prompt {done + 1} of 10000 \x1b[2J")
    lines = stream.getvalue().splitlines()
    assert 2 <= len(lines) <= 12
    assert lines[0].startswith("[  0/10000]") and lines[-1].startswith("[10000/10000]")
    assert "\x1b" not in stream.getvalue()
    progress(0, 3, "next phase")
    assert stream.getvalue().splitlines()[-1] == "[  0/3] next phase"


def test_a_prompts_file_or_text_that_is_not_a_regular_file_is_refused_without_blocking(tmp_path: Path) -> None:
    import threading

    from gpt2q_desktop.core.errors import Gpt2qError
    from gpt2q_desktop.core.measure.quality import read_text

    fifo = tmp_path / "prompts.txt"
    make_fifo(fifo)
    outcomes: list[str] = []

    def attempt(read) -> None:
        try:
            read()
        except Gpt2qError as exc:
            outcomes.append(str(exc))

    for read in (lambda: read_prompts(fifo), lambda: next(read_text(fifo)), lambda: read_prompts(tmp_path)):
        reader = threading.Thread(target=attempt, args=(read,), daemon=True)
        reader.start()
        reader.join(timeout=10)
        assert not reader.is_alive(), "reading blocked on a special file"
    assert [("named pipe" in o, "folder" in o) for o in outcomes] == [(True, False), (True, False), (False, True)]
