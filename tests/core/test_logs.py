"""The log: INFO lines of what was done kept in a rotating file; the command line stays quiet unless verbose."""

from __future__ import annotations

import logging
import re
from pathlib import Path

from gpt2q_desktop.cli.main import main
from gpt2q_desktop.core import logs
from gpt2q_desktop.core.logs import LOGGER, log_file, setup_logging


def info_lines(path: Path) -> list[str]:
    return [line for line in path.read_text(encoding="utf-8").splitlines() if " INFO " in line]


def test_the_command_line_logs_to_the_file_and_echoes_info_only_when_verbose(tiny_checkpoint, capsys, undo_logging):
    assert main(["quantize", str(tiny_checkpoint)]) == 0
    quiet = capsys.readouterr().err
    assert main(["--verbose", "quantize", str(tiny_checkpoint)]) == 0
    verbose = capsys.readouterr().err

    assert not re.search(r"^gpt2q: (Quantizing|Cache|INT8 model ready)", quiet, re.M), quiet
    assert "gpt2q: Cache hit: INT8 model" in verbose
    logged = info_lines(log_file())
    wanted = ["Quantizing tiny-gpt2", "Cache miss", "Cache entry written", "INT8 model ready", "Quantizing tiny-gpt2",
              "Cache hit", "INT8 model ready"]  # fmt: skip
    assert [w for w in wanted if any(w in line for line in logged)] == wanted
    assert sum("Quantizing tiny-gpt2" in line for line in logged) == 2, "one file, not one per call"


def test_the_log_file_rotates_and_keeps_info_lines(monkeypatch, undo_logging):
    monkeypatch.setattr(logs, "MAX_BYTES", 2_000)
    path = setup_logging()
    assert path == log_file()
    for i in range(100):
        logging.getLogger(LOGGER).info("line %03d of what the app did", i)

    files = sorted(path.parent.iterdir())
    assert [f.name for f in files] == ["gpt2q.log", "gpt2q.log.1", "gpt2q.log.2"][: logs.BACKUPS + 1]
    assert all(f.stat().st_size <= logs.MAX_BYTES for f in files)
    assert info_lines(path)[-1].endswith("line 099 of what the app did")


def test_a_rotation_windows_refuses_loses_no_record(monkeypatch, capsys, undo_logging):
    """On Windows the window and a ``gpt2q`` command write one log file; the file another process has open cannot
    be renamed (WinError 32). Records go on to the current file, and the rotation happens once it can."""
    import os

    from tests.core.test_windows_files import in_use

    monkeypatch.setattr(logs, "MAX_BYTES", 2_000)
    path = setup_logging()
    real_rename = os.rename

    def refused(source: str, target: str) -> None:
        raise in_use(source)

    monkeypatch.setattr(os, "rename", refused)
    for i in range(100):
        logging.getLogger(LOGGER).info("line %03d of what the app did", i)
    assert "Logging error" not in capsys.readouterr().err
    assert len(info_lines(path)) == 100 and not path.with_name("gpt2q.log.1").exists()

    monkeypatch.setattr(os, "rename", real_rename)
    for i in range(100, 200):
        logging.getLogger(LOGGER).info("line %03d of what the app did", i)
    assert "Logging error" not in capsys.readouterr().err
    assert path.with_name("gpt2q.log.1").exists() and info_lines(path)[-1].endswith("line 199 of what the app did")
