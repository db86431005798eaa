"""Shared fixtures: an isolated data dir for every test, and tiny GPT-2 checkpoints built on the spot."""

from __future__ import annotations

import contextlib
import json
import logging
import os
from collections.abc import Callable, Iterator
from dataclasses import dataclass
from pathlib import Path
from types import SimpleNamespace
from typing import Any

import pytest

from tests.parallel import built_once, machine_share, one_thread

os.environ.setdefault("QT_QPA_PLATFORM", "offscreen")
os.environ["HF_HUB_OFFLINE"] = "1"

TRAIN_TEXT = (
    "The cat sat on the mat. The dog sat on the rug. The sky is blue and the grass is green. "
    "Once upon a time there was a little girl who lived in a village near the forest. "
) * 4


def pytest_xdist_auto_num_workers(config: pytest.Config) -> int:
    """``-n auto``: one worker more than this process may use cores, since a worker waiting on a child process, a
    file lock or a timing test leaves its core to the others."""
    cores = len(os.sched_getaffinity(0)) if hasattr(os, "sched_getaffinity") else os.cpu_count() or 1
    return cores + 1


def file_order(items: list[pytest.Item]) -> list[Path]:
    """The order in which xdist hands the test files out (``--no-loadscope-reorder``):

    - a file that needs the session's ONNX graphs (its worker builds them);
    - the other files holding a ``slow`` test: those that do not need the graphs first (they keep the other workers
      busy meanwhile), files of timing tests last (their slow fixtures are made beside the many short tests that
      follow);
    - the rest;
    - the other files whose tests are all ``timing``, where their running alone costs least (the other workers have
      little left)."""
    files: dict[Path, list[pytest.Item]] = {}
    for item in items:
        files.setdefault(item.path, []).append(item)

    def marked(path: Path, marker: str) -> list[bool]:
        return [item.get_closest_marker(marker) is not None for item in files[path]]

    def graphs(path: Path) -> bool:
        return any("onnx_build" in getattr(item, "fixturenames", ()) for item in files[path])

    slow = [path for path in files if any(marked(path, "slow"))]
    builder = [path for path in slow if graphs(path)][:1]
    slow = builder + sorted((p for p in slow if p not in builder), key=lambda p: (all(marked(p, "timing")), graphs(p)))
    last = [path for path in files if path not in slow and all(marked(path, "timing"))]
    return slow + [path for path in files if path not in slow and path not in last] + last


def pytest_collection_modifyitems(items: list[pytest.Item]) -> None:
    """The tests in :func:`file_order`, each file's in its own order."""
    rank = {path: i for i, path in enumerate(file_order(items))}
    items.sort(key=lambda item: rank[item.path])


@pytest.hookimpl(hookwrapper=True)
def pytest_runtest_protocol(item: pytest.Item, nextitem: pytest.Item | None) -> Iterator[None]:
    """An ordinary test holds the machine shared from its fixtures' setup to their teardown, on one thread; a
    ``timing`` test holds it shared while its fixtures are made and torn down, and alone while it runs (the hooks
    below), on torch's default threads."""
    ordinary = item.get_closest_marker("timing") is None
    with _timing_phase(item, None), one_thread() if ordinary else contextlib.nullcontext():
        yield


def _timing_phase(item: pytest.Item, alone: bool | None) -> contextlib.AbstractContextManager[None]:
    """The machine held for one phase of a test: *alone* is None for the whole test (ordinary tests only), else
    for a phase of a ``timing`` test."""
    timing = item.get_closest_marker("timing") is not None
    if timing == (alone is None):
        return contextlib.nullcontext()
    return machine_share(item.config, alone=bool(alone))


@pytest.hookimpl(hookwrapper=True)
def pytest_runtest_setup(item: pytest.Item) -> Iterator[None]:
    with _timing_phase(item, False):
        yield


@pytest.hookimpl(hookwrapper=True)
def pytest_runtest_call(item: pytest.Item) -> Iterator[None]:
    with _timing_phase(item, True):
        yield


@pytest.hookimpl(hookwrapper=True)
def pytest_runtest_teardown(item: pytest.Item, nextitem: pytest.Item | None) -> Iterator[None]:
    with _timing_phase(item, False):
        yield


@pytest.fixture(autouse=True)
def data_dir(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> Path:
    """Every test gets its own empty app data dir (cache, logs, digests)."""
    path = tmp_path / "gpt2q-data"
    monkeypatch.setenv("GPT2Q_DATA_DIR", str(path))
    return path


def _tiny_model(n_layer: int = 2, seed: int = 0):
    from gpt2q_desktop.core.checkpoints.synthetic import make_gpt2

    return make_gpt2(n_layer=n_layer, n_embd=64, n_head=2, n_positions=64, seed=seed)


def _train(model, steps: int = 40):
    """A few optimizer steps on a short text: peaked, stable next-token distributions."""
    import torch

    from gpt2q_desktop.core.checkpoints.checkpoint import load_tokenizer
    from gpt2q_desktop.core.paths import bundled_tokenizer_dir

    tok = load_tokenizer(bundled_tokenizer_dir())
    ids = torch.tensor([tok(TRAIN_TEXT)["input_ids"][:64]])
    model.train().requires_grad_(True)
    opt = torch.optim.AdamW(model.parameters(), lr=3e-3)
    torch.manual_seed(0)
    for _ in range(steps):
        loss = model(input_ids=ids, labels=ids).loss
        opt.zero_grad()
        loss.backward()
        opt.step()
    return model.eval().requires_grad_(False)


@pytest.fixture(scope="session")
def tiny_model():
    """A random-init 2-block, 64-wide GPT-2 with the real 50,257-token vocabulary."""
    return _tiny_model()


@pytest.fixture(scope="session")
def tiny_checkpoint(tmp_path_factory: pytest.TempPathFactory, tiny_model) -> Path:
    """A Hugging Face folder (safetensors + GPT-2 tokenizer files) of :func:`tiny_model`."""
    from gpt2q_desktop.core.checkpoints.synthetic import save_checkpoint

    with built_once(tmp_path_factory, "tiny") as (folder, make):
        if make:
            save_checkpoint(tiny_model, folder / "tiny-gpt2")
    return folder / "tiny-gpt2"


@pytest.fixture(scope="session")
def trained_checkpoint(tmp_path_factory: pytest.TempPathFactory) -> Path:
    """A tiny GPT-2 trained briefly on a short English text, so its predictions are peaked."""
    from gpt2q_desktop.core.checkpoints.synthetic import save_checkpoint

    with built_once(tmp_path_factory, "trained") as (folder, make):
        if make:
            save_checkpoint(_train(_tiny_model(seed=1)), folder / "trained-gpt2")
    return folder / "trained-gpt2"


@pytest.fixture(autouse=True)
def undo_logging() -> Iterator[None]:
    """The ``gpt2q`` logger's handlers and level put back after every test (an entry point's
    :func:`~gpt2q_desktop.core.logs.setup_logging` would outlive it, writing into this test's data dir and
    captured stderr)."""
    from gpt2q_desktop.core.logs import LOGGER

    log = logging.getLogger(LOGGER)
    level, before = log.level, list(log.handlers)
    yield
    for handler in [h for h in log.handlers if h not in before]:
        log.removeHandler(handler)
        handler.close()
    log.setLevel(level)


@dataclass(frozen=True)
class CliRun:
    """What a ``gpt2q`` command run in a fresh process left: its exit code and output."""

    returncode: int
    stdout: str
    stderr: str


@pytest.fixture(scope="session")
def onnx_build(tmp_path_factory: pytest.TempPathFactory, trained_checkpoint: Path) -> tuple[Path, CliRun]:
    """The default recipe's ONNX Runtime graphs (FP32 and INT8) of the trained checkpoint, built once per test
    session by ``gpt2q quantize --runtime onnxruntime --json`` in a fresh process, as a user runs it, into a data
    folder of its own: that folder, and what the command printed."""
    import subprocess
    import sys

    with built_once(tmp_path_factory, "onnx-cache") as (root, make):
        if make:
            args = ["-m", "gpt2q_desktop.cli", "quantize", str(trained_checkpoint), "--runtime", "onnxruntime", "--json"]
            env = {**os.environ, "GPT2Q_DATA_DIR": str(root / "data")}
            ran = subprocess.run([sys.executable, *args], capture_output=True, text=True, env=env, timeout=600)
            (root / "run.json").write_text(json.dumps([ran.returncode, ran.stdout, ran.stderr]))
    return root / "data", CliRun(*json.loads((root / "run.json").read_text()))


@pytest.fixture(scope="session")
def _built_onnx_cache(onnx_build: tuple[Path, CliRun]) -> Path:
    """The cache folder of :func:`onnx_build` (its graphs, whatever the command said)."""
    return onnx_build[0] / "cache"


@pytest.fixture
def onnx_cache(_built_onnx_cache: Path, data_dir: Path) -> Path:
    """This test's cache, holding a copy of the session's ONNX Runtime graphs (so that a test that is not about
    the export does not export again); returns the cache folder."""
    import shutil

    return Path(shutil.copytree(_built_onnx_cache, data_dir / "cache"))


def graph_entries(cache_folder: Path) -> dict[str, Any]:
    """The ONNX Runtime entries of the cache in *cache_folder*, by graph ("fp32", "int8")."""
    from gpt2q_desktop.core.store.model_cache import QuantCache

    return {entry.manifest["graph"]: entry for entry in QuantCache(cache_folder.parent).entries()}


def session_graph_build(built_cache: Path, checkpoint: Path, others: Callable[..., dict] | None = None) -> Callable[..., dict]:
    """A stand-in for the ONNX build child: builds of *checkpoint* under the default recipe served from the graphs in
    the cache folder *built_cache* (each stage reported, the files copied); any other build goes to *others*, or
    fails."""
    import shutil

    from gpt2q_desktop.core.options import RecipeOptions
    from gpt2q_desktop.core.store.manifest import ONNX_PAYLOAD

    entries = graph_entries(built_cache)

    def build(job, progress=None, cancelled=None) -> dict:
        served = job.info.path.resolve() == checkpoint.resolve() and job.options in (None, RecipeOptions())
        if others is not None and not served:
            return others(job, progress, cancelled)
        assert served, job
        for done, stage in enumerate(job.stages):
            if progress is not None:
                progress(done, len(job.stages), stage)
        if job.trace_fp32:
            shutil.copyfile(entries["fp32"].path / ONNX_PAYLOAD, job.fp32_path)
        if job.int8_path is not None:
            shutil.copyfile(entries["int8"].path / ONNX_PAYLOAD, job.int8_path)
        return {"counts": entries["int8"].manifest["counts"]}

    return build


def in_process_build(job, progress=None, cancelled=None) -> dict:
    """The ONNX build child's own work (:func:`gpt2q_desktop.core.ort.build._child`) run in this process, for tests
    of what is built rather than of the child: its stages reported, its result returned or its error raised."""
    from gpt2q_desktop.core.ort import build

    sent: list[tuple] = []
    build._child(SimpleNamespace(send=sent.append, close=lambda: None), job)
    for message in sent:  # read as the parent reads them
        result = build.answer(message, job.stages, progress)
        if result is not None:
            return result
    raise AssertionError(f"the build sent no result: {sent}")


@pytest.fixture
def prebuilt_onnx_build(monkeypatch: pytest.MonkeyPatch, _built_onnx_cache: Path, trained_checkpoint: Path) -> None:
    """ONNX builds of the trained checkpoint under the default recipe served from the session's graphs, for tests
    of what is around the build (cache, notes, window), not of the build."""
    from gpt2q_desktop.core.ort import pipeline

    monkeypatch.setattr(pipeline, "run_build", session_graph_build(_built_onnx_cache, trained_checkpoint))
