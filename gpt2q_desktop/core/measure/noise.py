"""Is a timing trustworthy? A verdict from the samples themselves and from what the OS says about load.

A pair of timings (FP32 and INT8, taken interleaved) is *noisy* when either one's samples spread widely (p90 far
above the median), drift between the first and second half of the run, or when other programs kept the CPU
busy while it ran (the machine's busy time, :mod:`~.system_cpu`, against this process's own). A noisy speedup is
shown as unreliable, with the likely cause and the fix, never as a plain "slower".
"""

from __future__ import annotations

import os
import time
from collections.abc import Sequence
from dataclasses import dataclass

from gpt2q_desktop.core.measure.metrics import percentile
from gpt2q_desktop.core.measure.system_cpu import busy_seconds

MAX_P90_OVER_MEDIAN = 1.5
"""p90 / median above this: the samples spread too widely (idle machines here stay under 1.2)."""
MAX_HALF_DRIFT = 0.25
"""The two halves' medians differing by more than this share: the machine's speed changed during the run."""
MAX_OTHER_CORES = 0.3
"""Cores' worth of CPU that other programs may take beyond the cores the timing left free (``spare_cores``)
before the timing counts as disturbed."""
MIN_SAMPLES_FOR_SPREAD = 5


def fix(threads: int) -> str:
    """What to do about a noisy timing taken with *threads* threads (lowering them is no fix at 1)."""
    close = "another program is using the CPU: close it"
    return f"{close}, or lower Threads (--threads)" if threads > 1 else close


@dataclass(frozen=True)
class Verdict:
    """Clean, or noisy with the reasons in words."""

    reasons: tuple[str, ...] = ()

    @property
    def noisy(self) -> bool:
        return bool(self.reasons)

    def explain(self, threads: int) -> str:
        """One line: what was seen, and the fix for a timing with *threads* threads; "" when clean."""
        return f"timing unreliable ({'; '.join(self.reasons)}): {fix(threads)}" if self.noisy else ""


def sample_problems(name: str, samples: Sequence[float]) -> list[str]:
    """What is wrong with one model's samples (ms), in words; empty when they look steady."""
    if len(samples) < MIN_SAMPLES_FOR_SPREAD:
        return []
    problems = []
    median, p90 = percentile(samples, 50), percentile(samples, 90)
    if median > 0 and p90 / median > MAX_P90_OVER_MEDIAN:
        problems.append(f"{name} p90 is {p90 / median:.1f}× its median")
    half = len(samples) // 2
    first, second = percentile(samples[:half], 50), percentile(samples[half:], 50)
    if min(first, second) > 0 and max(first, second) / min(first, second) - 1 > MAX_HALF_DRIFT:
        problems.append(f"{name} drifted {max(first, second) / min(first, second) - 1:.0%} between halves")
    return problems


def verdict(samples: dict[str, Sequence[float]], other_cores: float | None = None, spare_cores: float = 0.0) -> Verdict:
    """The verdict on timings taken together (name → samples in ms), given the cores other programs used and
    the cores the timing left free for them (cores − threads)."""
    reasons = [p for name, s in samples.items() for p in sample_problems(name, s)]
    if other_cores is not None and other_cores - max(0.0, spare_cores) > MAX_OTHER_CORES:
        reasons.insert(0, f"other programs used {other_cores:.1f} cores meanwhile")
    return Verdict(tuple(reasons))


def usable_cores() -> int:
    """The cores this process may run on."""
    try:
        return len(os.sched_getaffinity(0))
    except (AttributeError, OSError):
        return os.cpu_count() or 1


def noisy_each(
    samples: dict[str, Sequence[float]], other_cores: float | None = None, spare_cores: float = 0.0
) -> dict[str, tuple[str, ...]]:
    """Each timing judged on its own (name → samples in ms): the noisy ones, with why."""
    verdicts = {name: verdict({name: s}, other_cores, spare_cores) for name, s in samples.items()}
    return {name: v.reasons for name, v in verdicts.items() if v.noisy}


def _own_seconds() -> float:
    t = os.times()
    return t.user + t.system


class LoadWatch:
    """Measures how many cores' worth of CPU *other* programs used between :meth:`start` and :meth:`stop`."""

    def start(self) -> LoadWatch:
        self._busy, self._own, self._wall = busy_seconds(), _own_seconds(), time.monotonic()
        return self

    def stop(self) -> float | None:
        """Other programs' CPU use in cores (None where the OS does not say)."""
        busy, wall = busy_seconds(), time.monotonic() - self._wall
        if busy is None or self._busy is None or wall <= 0:
            return None
        others = (busy - self._busy) - (_own_seconds() - self._own)
        return max(0.0, others / wall)
