"""The ``gpt2q`` command line: results on stdout, one-line errors, exit codes 0 and 2."""

from __future__ import annotations

import csv
import io
import json
import os
import subprocess
import sys
from pathlib import Path

import pytest

from gpt2q_desktop.cli.main import main

FAST = ["--repeats", "2", "--warmup", "0", "--threads", "1"]


def run(argv: list[str], capsys: pytest.CaptureFixture[str]) -> tuple[int, str, str]:
    try:
        code = main(argv)
    except SystemExit as exc:  # argparse usage errors
        code = int(exc.code or 0)
    captured = capsys.readouterr()
    return code, captured.out, captured.err


def test_quantize_json_then_cache_hit(tiny_checkpoint: Path, capsys) -> None:
    code, out, err = run(["quantize", str(tiny_checkpoint), "--json"], capsys)
    assert code == 0, err
    first = json.loads(out)
    assert {"layers_quantized", "layers_eligible", "fp32_bytes", "int8_bytes", "seconds", "cache_hit", "cache_dir"} <= set(first)
    assert first["layers_quantized"] == first["layers_eligible"] == 9 and not first["cache_hit"]
    assert first["int8_bytes"] <= 0.3 * first["fp32_bytes"]
    code, out, _ = run(["quantize", str(tiny_checkpoint), "--json", "--per-channel"], capsys)
    assert json.loads(out)["cache_hit"] is False
    code, out, _ = run(["quantize", str(tiny_checkpoint), "--json"], capsys)
    assert code == 0 and json.loads(out)["cache_hit"] is True


def test_quantize_needs_no_tokenizer(tmp_path: Path, tiny_checkpoint: Path, capsys) -> None:
    import shutil

    folder = tmp_path / "weights-only"
    shutil.copytree(tiny_checkpoint, folder)
    (folder / "vocab.json").unlink()
    assert run(["quantize", str(folder)], capsys)[0] == 0


def test_compare_json_and_csv(trained_checkpoint: Path, capsys) -> None:
    code, out, err = run(["compare", str(trained_checkpoint), "--prompt", "The cat sat on the", "The sky is", "--format", "json", *FAST], capsys)
    assert code == 0, err
    rows = json.loads(out)
    assert [r["prompt"] for r in rows] == ["The cat sat on the", "The sky is"]
    for r in rows:
        assert {"token", "token_id", "prob", "median_ms", "p90_ms"} <= set(r["fp32"]) and r["agree"] is True
        assert r["speedup"] > 0 and r["kl"] >= 0
    code, out, _ = run(["compare", str(trained_checkpoint), "--prompt", "The sky is", "--format", "csv", *FAST], capsys)
    assert list(csv.DictReader(io.StringIO(out)))[0]["fp32_token"] == " blue"


def test_compare_prompts_file_and_table(trained_checkpoint: Path, tmp_path: Path, capsys) -> None:
    prompts = tmp_path / "prompts.txt"
    prompts.write_text("The cat sat on the\n\n你好 😀\n", encoding="utf-8")
    code, out, _ = run(["compare", str(trained_checkpoint), "--prompts-file", str(prompts), *FAST], capsys)
    assert code == 0
    assert "␣mat" in out and "你好" in out and "top-1 agreement" in out


@pytest.mark.parametrize(
    ("argv", "message"),
    [
        (["quantize", "/no/such/folder"], "does not exist"),
        (["compare", "{ckpt}", "--prompt", "  "], "empty"),
        (["compare", "{ckpt}", "--prompts-file", "/no/such/file.txt"], "does not exist"),
        (["compare", "{ckpt}", "--prompt", "x", "--tokenizer", "/tmp"], "no GPT-2 tokenizer"),
        (["quantize", "{ckpt}", "--exclude-layers", "9"], "does not exist"),
    ],
)
def test_user_errors_exit_2_with_one_line(tiny_checkpoint: Path, capsys, argv: list[str], message: str) -> None:
    code, out, err = run([a.replace("{ckpt}", str(tiny_checkpoint)) for a in argv], capsys)
    lines = [line for line in err.splitlines() if line.startswith("gpt2q: error:")]
    assert code == 2 and out == ""
    assert len(lines) == 1 and message in lines[0]
    assert "Traceback" not in err


def test_usage_errors_exit_2(capsys) -> None:
    assert run(["compare"], capsys)[0] == 2
    assert run(["compare", "x", "--prompt", "a", "--repeats", "0"], capsys)[0] == 2


def test_cache_list_and_clear(tiny_checkpoint: Path, capsys) -> None:
    run(["quantize", str(tiny_checkpoint)], capsys)
    code, out, _ = run(["cache", "list", "--json"], capsys)
    listing = json.loads(out)
    assert code == 0 and len(listing["entries"]) == 1 and listing["entries"][0]["source"] == tiny_checkpoint.name
    code, out, _ = run(["cache", "clear", "--json"], capsys)
    assert json.loads(out)["deleted"] == 1
    assert json.loads(run(["cache", "list", "--json"], capsys)[1])["entries"] == []


def test_installed_entry_point_reports_bad_architecture(tmp_path: Path, tiny_checkpoint: Path) -> None:
    """The real process: no traceback for a user error, exit code 2."""
    import shutil

    folder = tmp_path / "bert"
    shutil.copytree(tiny_checkpoint, folder)
    config = json.loads((folder / "config.json").read_text())
    config["model_type"] = "bert"
    (folder / "config.json").write_text(json.dumps(config))
    proc = subprocess.run(
        [sys.executable, "-m", "gpt2q_desktop.cli", "quantize", str(folder)],
        capture_output=True, text=True, env=os.environ.copy(), timeout=300,
    )  # fmt: skip
    assert proc.returncode == 2 and proc.stdout == ""
    assert proc.stderr.strip().splitlines()[-1].startswith("gpt2q: error: This is a bert model")
    assert "Traceback" not in proc.stderr


def test_every_option_of_every_command_has_help() -> None:
    import argparse

    from gpt2q_desktop.cli.parser import build_parser

    parser = build_parser()
    commands = next(a for a in parser._actions if isinstance(a, argparse._SubParsersAction)).choices
    missing = [
        f"{name} {action.dest}"
        for name, sub in commands.items()
        for action in sub._actions
        if not isinstance(action, argparse._HelpAction) and not action.help
    ]
    assert missing == []
