"""The machine lock of tests/parallel.py: a ``timing`` test waits for the running tests, and tests that come
after it wait for it (else a stream of ordinary tests would keep it waiting); the order files go out in; an
ordinary test's one thread."""

from __future__ import annotations

import os
import threading
import time
from pathlib import Path
from types import SimpleNamespace

import pytest

from tests import parallel


@pytest.mark.skipif(parallel.fcntl is None, reason="the shared lock is flock's")
def test_an_alone_test_waits_for_the_running_ones_and_goes_before_later_ones(tmp_path: Path, monkeypatch) -> None:
    monkeypatch.setattr(parallel, "WORKER", "gw0")
    (tmp_path / "gw0").mkdir()
    config = SimpleNamespace(option=SimpleNamespace(basetemp=str(tmp_path / "gw0")))
    events: list[str] = []
    first_in, release_first = threading.Event(), threading.Event()

    def test(name: str, alone: bool, entered: threading.Event | None = None, hold: threading.Event | None = None):
        with parallel.machine_share(config, alone):
            events.append(f"{name} in")
            if entered is not None:
                entered.set()
            if hold is not None:
                hold.wait(10)
            time.sleep(0.05)
            events.append(f"{name} out")

    threads = [threading.Thread(target=test, args=("shared", False, first_in, release_first))]
    threads[0].start()
    first_in.wait(10)
    threads.append(threading.Thread(target=test, args=("alone", True)))
    threads[1].start()
    time.sleep(0.2)  # the alone test now waits at the gate's other side
    threads.append(threading.Thread(target=test, args=("later", False)))
    threads[2].start()
    time.sleep(0.2)
    assert events == ["shared in"], "nobody may start while a test that must run alone waits"
    release_first.set()
    for thread in threads:
        thread.join(10)
    assert events == ["shared in", "shared out", "alone in", "alone out", "later in", "later out"]


def test_files_go_out_builder_first_then_the_slow_ones_and_the_timing_ones_last() -> None:
    from tests.conftest import file_order

    def item(path: str, *marks: str, graphs: bool = False) -> SimpleNamespace:
        return SimpleNamespace(
            path=Path(path),
            fixturenames=["onnx_build"] if graphs else [],
            get_closest_marker=lambda name: name if name in marks else None,
        )

    items = [
        item("plain.py"), item("stalls.py", "timing"), item("slow_stalls.py", "timing", "slow"),
        item("graphs1.py", "slow", graphs=True), item("alone.py", "slow"), item("graphs2.py", "slow", graphs=True),
        item("mixed.py", "timing"), item("mixed.py"),
    ]  # fmt: skip
    assert [p.name for p in file_order(items)] == [
        "graphs1.py", "alone.py", "graphs2.py", "slow_stalls.py", "plain.py", "mixed.py", "stalls.py"
    ], "the session's graphs are built while other slow files run; files of timing tests only, which run alone, last"


def test_an_ordinary_test_computes_on_one_thread_and_the_threads_come_back_after(monkeypatch) -> None:
    import torch

    monkeypatch.setattr(parallel, "WORKER", "gw0")
    monkeypatch.setenv("OMP_NUM_THREADS", "2")
    before = torch.get_num_threads()
    torch.set_num_threads(2)
    try:
        with parallel.one_thread():
            assert torch.get_num_threads() == 1 and os.environ["OMP_NUM_THREADS"] == "1"
        assert torch.get_num_threads() == 2 and os.environ["OMP_NUM_THREADS"] == "2"
    finally:
        torch.set_num_threads(before)
