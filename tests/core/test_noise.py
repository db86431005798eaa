"""The noise verdict, as a pure function of the samples and of the load other programs put on the CPU."""

from __future__ import annotations

import random

import pytest

from gpt2q_desktop.core.measure.noise import LoadWatch, fix, sample_problems, verdict


def _steady(median: float, n: int = 20, jitter: float = 0.03, seed: int = 0) -> list[float]:
    rng = random.Random(seed)
    return [median * (1 + rng.uniform(-jitter, jitter)) for _ in range(n)]


def test_steady_samples_are_clean() -> None:
    result = verdict({"FP32": _steady(20.0), "INT8": _steady(5.0, seed=1)}, other_cores=0.05)
    assert not result.noisy and result.explain(threads=2) == ""


def test_a_wide_spread_is_noisy_and_says_which_model() -> None:
    spiky = _steady(10.0)
    for i in range(0, 20, 4):  # every fourth call stalls
        spiky[i] = 60.0
    result = verdict({"FP32": _steady(20.0), "INT8": spiky})
    assert result.noisy and any(r.startswith("INT8 p90 is") for r in result.reasons)
    assert result.explain(threads=2).endswith("close it, or lower Threads (--threads)")
    assert result.explain(threads=1).endswith("close it")  # one thread cannot be lowered


def test_a_drift_between_the_halves_is_noisy() -> None:
    samples = _steady(10.0, n=10) + _steady(16.0, n=10, seed=2)
    assert any("drifted" in p for p in sample_problems("FP32", samples))


def test_load_from_other_programs_is_noisy_even_with_steady_samples() -> None:
    result = verdict({"FP32": _steady(20.0), "INT8": _steady(5.0)}, other_cores=0.9)
    assert result.noisy and result.reasons[0] == "other programs used 0.9 cores meanwhile"


def test_too_few_samples_give_no_spread_verdict() -> None:
    assert sample_problems("INT8", [1.0, 9.0, 1.0]) == []


def test_the_load_watch_sees_a_busy_child_process() -> None:
    import subprocess
    import sys
    import time

    hog = subprocess.Popen([sys.executable, "-c", "while True: pass"])
    try:
        time.sleep(0.3)
        watch = LoadWatch().start()
        time.sleep(1.0)
        others = watch.stop()
    finally:
        hog.kill()
        hog.wait()
    if others is not None:  # Linux says; elsewhere the verdict rests on the samples alone
        assert others > 0.5


def test_load_is_forgiven_on_the_cores_the_timing_left_free() -> None:
    steady = {"FP32": _steady(20.0), "INT8": _steady(5.0)}
    assert not verdict(steady, other_cores=1.0, spare_cores=1.0).noisy  # 1 thread on 2 cores, 1 core busy
    assert verdict(steady, other_cores=1.0, spare_cores=0.0).noisy  # every core timed, 1 busy


def test_compare_under_a_cpu_hog_on_every_timed_core_marks_its_rows_noisy(trained_checkpoint) -> None:
    """The whole path: a busy program beside a timing that uses every core; asserts the flag, not a time."""
    import subprocess
    import sys

    from gpt2q_desktop.core.measure.noise import usable_cores
    from gpt2q_desktop.core.measure.render import render
    from gpt2q_desktop.core.options import RecipeOptions, RunSettings
    from gpt2q_desktop.core.session import Session

    session = Session()
    session.open(trained_checkpoint)
    session.quantize(RecipeOptions())
    settings = RunSettings(repeats=10, warmup=1, threads=usable_cores())
    hog = subprocess.Popen([sys.executable, "-c", "while True: pass"])
    try:
        rows = list(session.compare(["The cat sat on the", "Once upon a time"], RecipeOptions(), settings))
    finally:
        hog.kill()
        hog.wait()
    if not sys.platform.startswith("linux"):  # elsewhere only the samples speak, and they may look steady
        return
    assert all(r.noisy and r.as_dict()["noisy"] is True for r in rows)
    assert all(r.speedup_text().startswith("unreliable") for r in rows)
    assert "NOISY" in render(rows, "table") and rows[0].noise_text().endswith(fix(settings.threads))


class _SystemTimes:
    """Windows' ``GetSystemTimes`` (in 100 ns units; kernel time includes idle time) over a list of readings."""

    def __init__(self, readings: list[tuple[int, int, int]]) -> None:
        self.readings = readings

    def GetSystemTimes(self, idle, kernel, user) -> int:  # noqa: N802 - Windows' name
        idle._obj.value, kernel._obj.value, user._obj.value = self.readings.pop(0)
        return 1


class _HostStatistics:
    """macOS's ``host_statistics(HOST_CPU_LOAD_INFO)`` (ticks: user, system, idle, nice) over a list of readings."""

    def __init__(self, readings: list[tuple[int, int, int, int]]) -> None:
        self.readings = readings

    def host_statistics(self, host, flavor, ticks, count) -> int:
        assert flavor == 3 and count._obj.value == 4
        ticks[:] = self.readings.pop(0)
        return 0  # KERN_SUCCESS


def _watch(monkeypatch) -> float | None:
    """What a load watch of one second says while this process itself uses no CPU."""
    from gpt2q_desktop.core.measure import noise

    clock = iter([100.0, 101.0])
    monkeypatch.setattr(noise.time, "monotonic", lambda: next(clock))
    monkeypatch.setattr(noise, "_own_seconds", lambda: 5.0)
    return noise.LoadWatch().start().stop()


def test_the_load_watch_sees_other_programs_on_windows(monkeypatch) -> None:
    """Off Linux there is no ``/proc/stat``: Windows says its busy time through GetSystemTimes."""
    import ctypes

    from gpt2q_desktop.core.measure import system_cpu

    s = 10_000_000  # one second in 100 ns
    readings = [(50 * s, 60 * s, 20 * s), (50 * s + s // 2, 61 * s, 21 * s)]  # 2 s busy, 0.5 s idle, in 1 s
    monkeypatch.setattr(system_cpu.sys, "platform", "win32")
    monkeypatch.setattr(ctypes, "WinDLL", lambda name: _SystemTimes(readings), raising=False)
    assert _watch(monkeypatch) == pytest.approx(1.5)


def test_the_load_watch_sees_other_programs_on_macos(monkeypatch) -> None:
    import ctypes
    import os

    from gpt2q_desktop.core.measure import system_cpu

    tick = os.sysconf("SC_CLK_TCK")
    readings = [(1000, 500, 9000, 0), (1000 + tick, 500 + tick // 2, 9000, 0)]  # 1.5 s busy in 1 s
    monkeypatch.setattr(system_cpu.sys, "platform", "darwin")
    monkeypatch.setattr(system_cpu, "_mac_host", lambda: 7)
    monkeypatch.setattr(ctypes, "CDLL", lambda name: _HostStatistics(readings))
    assert _watch(monkeypatch) == pytest.approx(1.5)


def test_the_load_watch_says_nothing_where_the_os_does_not_say(monkeypatch) -> None:
    import ctypes

    from gpt2q_desktop.core.measure import system_cpu

    def missing(name: str) -> None:
        raise OSError(f"no {name}")

    monkeypatch.setattr(system_cpu.sys, "platform", "win32")
    monkeypatch.setattr(ctypes, "WinDLL", missing, raising=False)
    assert _watch(monkeypatch) is None
