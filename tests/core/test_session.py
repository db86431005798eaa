"""The session: the one pipeline every front end uses, checking its inputs before any long work."""

from __future__ import annotations

import shutil
from pathlib import Path

import pytest

from gpt2q_desktop.core import session as session_module
from gpt2q_desktop.core.errors import Cancelled, CheckpointError, Gpt2qError, PromptError, UnsafeCheckpointError
from gpt2q_desktop.core.options import RecipeOptions, RunSettings
from gpt2q_desktop.core.session import Session
from gpt2q_desktop.core.store.model_cache import QuantCache

FAST = RunSettings(repeats=1, warmup=0, threads=1, top_k=3)


@pytest.fixture
def loads(monkeypatch: pytest.MonkeyPatch) -> list[Path]:
    """The folders the session loaded weights from, in order."""
    seen: list[Path] = []
    real = session_module.load_inspected

    def counting(info):
        seen.append(info.path)
        return real(info)

    monkeypatch.setattr(session_module, "load_inspected", counting)
    return seen


def _session(checkpoint: Path) -> tuple[Session, list]:
    session = Session()
    reports: list = []
    session.on_quantized = reports.append
    session.open(checkpoint)
    return session, reports


def test_open_reads_no_weights_until_they_are_needed(tmp_path: Path, tiny_checkpoint: Path, loads) -> None:
    folder = tmp_path / "corrupt"
    shutil.copytree(tiny_checkpoint, folder)
    (folder / "model.safetensors").unlink()
    (folder / "pytorch_model.bin").write_bytes(b"\x80\x02 not a state dict")  # no header to read up front
    session = Session()
    assert session.open(folder).n_layer == 2 and loads == []
    with pytest.raises(UnsafeCheckpointError):
        session.load()
    assert loads == [folder]


def test_a_cache_hit_never_loads_the_fp32_model(tiny_checkpoint: Path, loads) -> None:
    first, _ = _session(tiny_checkpoint)
    assert not first.quantize(RecipeOptions()).cache_hit
    assert len(loads) == 1
    second, _ = _session(tiny_checkpoint)
    assert second.quantize(RecipeOptions()).cache_hit
    assert len(loads) == 1, "the cached INT8 model needs no FP32 weights"


def test_the_int8_model_is_reused_until_the_recipe_changes(tiny_checkpoint: Path) -> None:
    session, reports = _session(tiny_checkpoint)
    model = session.int8(RecipeOptions())
    assert session.int8(RecipeOptions()) is model and len(reports) == 1
    other = session.int8(RecipeOptions(per_channel=True))
    assert other is not model and len(reports) == 2 and reports[-1].options["per_channel"] is True


def test_a_bad_prompt_is_refused_before_quantizing(trained_checkpoint: Path) -> None:
    session, reports = _session(trained_checkpoint)
    with pytest.raises(PromptError, match="empty"):
        session.compare(["The cat sat on the", "   "], RecipeOptions(), FAST)
    assert reports == [] and QuantCache().entries() == []


def test_compare_yields_a_row_per_prompt_and_stops_when_cancelled(trained_checkpoint: Path) -> None:
    session, _ = _session(trained_checkpoint)
    rows = list(session.compare(["The cat sat on the", "The sky is"], RecipeOptions(), FAST))
    assert [r.prompt for r in rows] == ["The cat sat on the", "The sky is"]
    assert all(r.threads == 1 and r.repeats == 1 and len(r.fp32.top) == 3 for r in rows)

    stop = False
    compared = session.compare(["a", "b", "c"], RecipeOptions(), FAST, cancelled=lambda: stop)
    next(compared)
    stop = True
    with pytest.raises(Cancelled, match="Stopped after 1 of 3 prompts"):
        next(compared)


def test_automatic_threads_are_resolved_to_a_real_count(trained_checkpoint: Path) -> None:
    session, _ = _session(trained_checkpoint)
    (row,) = session.compare(["The sky is"], RecipeOptions(), RunSettings(repeats=1, warmup=0))
    assert row.threads >= 1


def test_a_missing_text_is_refused_before_loading_anything(tiny_checkpoint: Path, tmp_path: Path, loads) -> None:
    session, reports = _session(tiny_checkpoint)
    for verb in (session.evaluate, session.sensitivity):
        with pytest.raises(Gpt2qError, match="does not exist"):
            verb(tmp_path / "missing.txt", 100, RecipeOptions())
    assert loads == [] and reports == []


def test_nothing_runs_without_a_checkpoint() -> None:
    session = Session()
    with pytest.raises(CheckpointError, match="open a checkpoint folder first"):
        session.quantize(RecipeOptions())
    with pytest.raises(CheckpointError, match="quantize the checkpoint first"):
        _ = session.int8_model


def test_a_checkpoint_without_tokenizer_quantizes_but_refuses_prompts(tmp_path: Path, tiny_checkpoint: Path) -> None:
    folder = tmp_path / "weights-only"
    shutil.copytree(tiny_checkpoint, folder)
    (folder / "vocab.json").unlink()
    session, _ = _session(folder)
    assert not session.load().has_tokenizer
    assert session.quantize(RecipeOptions()).layers_quantized == 9
    with pytest.raises(Gpt2qError, match="no tokenizer"):
        session.compare(["Hello"], RecipeOptions(), FAST)


def test_a_checkpoint_that_fails_to_load_leaves_the_session_empty(tmp_path: Path, tiny_checkpoint: Path) -> None:
    folder = tmp_path / "broken"
    shutil.copytree(tiny_checkpoint, folder)
    (folder / "model.safetensors").unlink()
    (folder / "pytorch_model.bin").write_bytes(b"\x80\x02 not a state dict")
    session = Session()
    session.open(folder)
    with pytest.raises(UnsafeCheckpointError):
        session.load()
    assert session.info is None
    with pytest.raises(CheckpointError, match="open a checkpoint folder first"):
        session.quantize(RecipeOptions())  # a job queued behind the failed open runs on nothing
