"""Cyclic garbage is collected on the GUI thread, never on a thread that merely allocates."""

from __future__ import annotations

import gc
import threading
import typing


class _Node:
    """A self-referencing object that records the thread that finally frees it."""

    freed_on: typing.ClassVar[list[threading.Thread]] = []

    def __init__(self) -> None:
        self.me = self

    def __del__(self) -> None:
        _Node.freed_on.append(threading.current_thread())


def test_garbage_is_collected_by_the_gui_thread_not_by_an_allocating_thread(main_thread_gc, qtbot):
    assert not gc.isenabled()
    _Node.freed_on.clear()
    _Node()  # unreachable at once, but only the cyclic collector can free it
    held: list[list[int]] = []
    worker = threading.Thread(target=lambda: held.extend([] for _ in range(20 * gc.get_threshold()[0])))
    worker.start()
    worker.join()  # enough allocations to start several automatic collections, were they on

    assert _Node.freed_on == []
    qtbot.waitUntil(lambda: bool(_Node.freed_on), timeout=5000)
    assert _Node.freed_on == [threading.main_thread()]


def test_the_libraries_are_frozen_and_stopping_gives_collection_back(qapp):
    from gpt2q_desktop.app.gc_guard import MainThreadCollector, freeze_libraries

    was = gc.isenabled()
    gc.enable()
    collector = MainThreadCollector(qapp)
    try:
        assert not gc.isenabled()
        freeze_libraries()
        assert gc.get_freeze_count() > 0
        _Node.freed_on.clear()
        _Node()  # made after the freeze, as a model is: still collected
        gc.collect()
        assert _Node.freed_on == [threading.main_thread()]
        collector.stop()
        assert gc.isenabled() and gc.get_freeze_count() == 0
    finally:
        (gc.enable if was else gc.disable)()
        collector.deleteLater()


def test_nothing_is_collected_while_the_worker_imports_the_libraries(main_thread_gc, qtbot):
    from gpt2q_desktop.app.gc_guard import importing_libraries

    _Node.freed_on.clear()
    with importing_libraries():
        _Node()
        held = [[] for _ in range(20 * gc.get_threshold()[0])]  # noqa: F841  (the young generation fills)
        qtbot.wait(1_200)  # two of the collector's turns
        assert _Node.freed_on == [], "a collection walked the imports' new objects on the GUI thread"
    qtbot.waitUntil(lambda: bool(_Node.freed_on), timeout=5000)
    assert _Node.freed_on == [threading.main_thread()]
