"""Where an export may go, checked before the ONNX graphs are built: never inside gpt2q's data folder (the cache
and the history live there; symlinks resolved, ``--force`` or not), and only where it can be written."""

from __future__ import annotations

import json
import os
from pathlib import Path
from typing import Any

import pytest

from gpt2q_desktop.cli.main import main
from gpt2q_desktop.core.options import RecipeOptions
from gpt2q_desktop.core.ort.takeaway import ExportError, check_destination
from gpt2q_desktop.core.session import Session
from tests.platform_marks import make_symlink, posix_only

KEY = "0123456789abcdef0123456789abcdef"


@pytest.fixture
def no_build(monkeypatch: pytest.MonkeyPatch) -> list[Any]:
    """Every quantization the export starts, recorded and stopped (the checks come before any of them)."""
    started: list[Any] = []

    def quantize(self: Session, *args: Any, **kw: Any) -> Any:
        started.append(args)
        raise AssertionError("the export started building before its destination was checked")

    monkeypatch.setattr(Session, "quantize", quantize)
    return started


def _entry(data_dir: Path) -> Path:
    """A cache entry folder as the cache writes them (what matters here is where it is)."""
    entry = data_dir / "cache" / KEY
    entry.mkdir(parents=True)
    (entry / "model.onnx").write_bytes(b"the entry's graph")
    return entry


def _linked_cache(data_dir: Path, tmp_path: Path) -> Path:
    (data_dir / "cache").mkdir(parents=True)
    make_symlink(data_dir / "cache", tmp_path / "elsewhere")
    return tmp_path / "elsewhere" / "my-export"


DESTINATIONS = {
    "in-the-cache": lambda data, tmp: data / "cache" / "my-export",
    "the-cache": lambda data, tmp: data / "cache",
    "the-data-folder": lambda data, tmp: data,
    "in-the-data-folder": lambda data, tmp: data / "exports" / "my-export",
    "an-entry": lambda data, tmp: _entry(data),
    "through-a-link": _linked_cache,
    "spelled-with-dots": lambda data, tmp: tmp / "x" / ".." / data.name / "cache" / "my-export",
}


@pytest.mark.parametrize("overwrite", [False, True], ids=["plain", "force"])
@pytest.mark.parametrize("where", DESTINATIONS)
def test_an_export_inside_the_data_folder_is_refused_before_anything_is_built(
    tiny_checkpoint: Path, data_dir: Path, tmp_path: Path, no_build: list[Any], where: str, overwrite: bool
) -> None:  # fmt: skip
    data_dir.mkdir(parents=True, exist_ok=True)
    (tmp_path / "x").mkdir()
    out = DESTINATIONS[where](data_dir, tmp_path)
    before = sorted(p.relative_to(data_dir) for p in data_dir.rglob("*"))
    session = Session()
    session.open(tiny_checkpoint)
    with pytest.raises(ExportError) as caught:
        session.export_model(out, RecipeOptions(), overwrite)
    message = str(caught.value)
    assert "inside gpt2q's data folder" in message and "\n" not in message, message
    assert not no_build
    assert sorted(p.relative_to(data_dir) for p in data_dir.rglob("*")) == before, "nothing may be written"


def test_a_data_folder_reached_through_a_link_is_still_the_data_folder(
    tiny_checkpoint: Path, tmp_path: Path, monkeypatch: pytest.MonkeyPatch, no_build: list[Any]
) -> None:  # fmt: skip
    real = tmp_path / "real-data"
    (real / "cache").mkdir(parents=True)
    make_symlink(real, tmp_path / "data-link")
    monkeypatch.setenv("GPT2Q_DATA_DIR", str(tmp_path / "data-link"))
    session = Session()
    session.open(tiny_checkpoint)
    with pytest.raises(ExportError, match="inside gpt2q's data folder"):
        session.export_model(real / "cache" / "my-export", RecipeOptions(), True)
    assert not no_build and list((real / "cache").iterdir()) == []


@pytest.mark.parametrize("force", [[], ["--force"]], ids=["plain", "force"])
def test_cli_export_into_the_cache_is_one_line_and_leaves_the_cache_alone(
    tiny_checkpoint: Path, data_dir: Path, capsys: pytest.CaptureFixture[str], no_build: list[Any], force: list[str]
) -> None:  # fmt: skip
    entry = _entry(data_dir)
    for out in (data_dir / "cache" / "my-export", entry):
        code = main(["export", str(tiny_checkpoint), str(out), *force])
        err = capsys.readouterr().err
        lines = [line for line in err.splitlines() if line.startswith("gpt2q: error:")]
        assert code == 2 and len(lines) == 1 and "inside gpt2q's data folder" in lines[0], err
        assert "Traceback" not in err
    assert not no_build and not (data_dir / "cache" / "my-export").exists()
    assert [p.name for p in entry.iterdir()] == ["model.onnx"] and (entry / "model.onnx").read_bytes() == b"the entry's graph"
    assert main(["cache", "list", "--json"]) == 0
    assert [e["key"] for e in json.loads(capsys.readouterr().out)["entries"]] == [KEY]


# -- a destination that cannot be written: said before the build, not after it ----------------------------------
def test_a_destination_that_cannot_be_created_is_refused_before_the_build(
    tiny_checkpoint: Path, tmp_path: Path, no_build: list[Any]
) -> None:  # fmt: skip
    (tmp_path / "a-file").write_text("not a folder")
    session = Session()
    session.open(tiny_checkpoint)
    with pytest.raises(ExportError) as caught:
        session.export_model(tmp_path / "a-file" / "export", RecipeOptions())
    assert "a-file is not a folder" in str(caught.value) and "cannot be created" in str(caught.value)
    assert not no_build


@posix_only
@pytest.mark.skipif(hasattr(os, "geteuid") and os.geteuid() == 0, reason="root writes into read-only folders")
@pytest.mark.parametrize("exists", [True, False], ids=["the-folder", "its-parent"])
def test_a_read_only_destination_is_refused_before_the_build(
    tiny_checkpoint: Path, tmp_path: Path, no_build: list[Any], exists: bool
) -> None:  # fmt: skip
    locked = tmp_path / "locked"
    locked.mkdir()
    out = locked if exists else locked / "export"
    locked.chmod(0o555)
    try:
        session = Session()
        session.open(tiny_checkpoint)
        with pytest.raises(ExportError, match="is not writable"):
            session.export_model(out, RecipeOptions())
    finally:
        locked.chmod(0o755)
    assert not no_build


def test_a_writable_destination_passes_and_the_check_leaves_nothing(tmp_path: Path, data_dir: Path) -> None:
    out = tmp_path / "exports" / "new"
    check_destination(out, False, (data_dir, data_dir / "cache"))
    assert not out.exists() and list(tmp_path.iterdir()) == []
    out.mkdir(parents=True)
    (out / "old.txt").write_text("kept")
    check_destination(out, True, (data_dir, data_dir / "cache"))
    assert [p.name for p in out.iterdir()] == ["old.txt"]
