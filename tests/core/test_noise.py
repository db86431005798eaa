"""The noise verdict, as a pure function of the samples and of the load other programs put on the CPU."""

from __future__ import annotations

import random

from gpt2q_desktop.core.noise import LoadWatch, sample_problems, verdict


def _steady(median: float, n: int = 20, jitter: float = 0.03, seed: int = 0) -> list[float]:
    rng = random.Random(seed)
    return [median * (1 + rng.uniform(-jitter, jitter)) for _ in range(n)]


def test_steady_samples_are_clean() -> None:
    result = verdict({"FP32": _steady(20.0), "INT8": _steady(5.0, seed=1)}, other_cores=0.05)
    assert not result.noisy and result.explain() == ""


def test_a_wide_spread_is_noisy_and_says_which_model() -> None:
    spiky = _steady(10.0)
    for i in range(0, 20, 4):  # every fourth call stalls
        spiky[i] = 60.0
    result = verdict({"FP32": _steady(20.0), "INT8": spiky})
    assert result.noisy and any(r.startswith("INT8 p90 is") for r in result.reasons)
    assert "close it, or lower Threads" in result.explain()


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
