"""How the test session shares the machine under pytest-xdist: session fixtures built once for all workers, tests
marked ``timing`` run with no other test beside them (a busy core ruins every event-loop or elapsed-time check),
and the other tests compute on one thread each. Without xdist all three are no-ops."""

from __future__ import annotations

import os
from collections.abc import Iterator
from contextlib import contextmanager
from pathlib import Path

import pytest
from filelock import FileLock

try:
    import fcntl
except ImportError:  # Windows: every test takes the machine alone (correct, not parallel)
    fcntl = None  # type: ignore[assignment]

WORKER = os.environ.get("PYTEST_XDIST_WORKER")
"""This worker's name ("gw0", ...), None when the tests run in one process."""


def run_folder(config: pytest.Config) -> Path:
    """The folder every worker of this run shares: the parent of each worker's own base temp folder."""
    return Path(config.option.basetemp).parent


@contextmanager
def built_once(factory: pytest.TempPathFactory, name: str) -> Iterator[tuple[Path, bool]]:
    """A folder for a session fixture's files and whether they still have to be made in it: under xdist one folder
    for all workers, made by the first while the others wait for it."""
    if WORKER is None:
        yield factory.mktemp(name), True
        return
    folder = factory.getbasetemp().parent / name
    with FileLock(f"{folder}.lock"):
        made = folder / ".made"
        folder.mkdir(exist_ok=True)
        yield folder, not made.exists()
        made.touch()


@contextmanager
def machine_share(config: pytest.Config, alone: bool) -> Iterator[None]:
    """Hold the machine shared (other tests may run) or *alone* (waits for the running ones, and new ones wait).

    A reader-writer lock on ``flock``: the gate makes a waiting ``alone`` test go first, before newcomers."""
    if WORKER is None:
        yield
        return
    folder = run_folder(config)
    if fcntl is None:
        with FileLock(folder / "machine.lock"):
            yield
        return
    with open(folder / "gate.lock", "a") as gate, open(folder / "machine.lock", "a") as machine:
        fcntl.flock(gate, fcntl.LOCK_EX)
        fcntl.flock(machine, fcntl.LOCK_EX if alone else fcntl.LOCK_SH)
        if not alone:
            fcntl.flock(gate, fcntl.LOCK_UN)
        yield  # closing the files releases both locks


@contextmanager
def one_thread() -> Iterator[None]:
    """torch in this worker, and every program the test starts, compute on one thread until the block ends: three
    workers on two cores, each with an OpenMP thread per core, spend their time spinning while they wait for each
    other (six torch-heavy test files on three workers, 2026-12-03: 45-49 s with one thread each, 65-73 s with
    torch's defaults). Timing tests keep the defaults: they run alone, as a user's program does."""
    if WORKER is None:
        yield
        return
    from gpt2q_desktop.core.measure.inference import torch_threads

    with pytest.MonkeyPatch.context() as env, torch_threads(1):
        env.setenv("OMP_NUM_THREADS", "1")
        yield
