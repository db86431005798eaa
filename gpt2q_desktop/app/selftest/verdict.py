"""The self-test's verdict: the failure that ends it, what the checks found, and where lines go."""

from __future__ import annotations

import sys
from dataclasses import dataclass, field


class SelfTestFailure(Exception):
    """A check that did not pass; its message is the verdict's reason."""


@dataclass
class Outcome:
    """What the checks found, for the verdict line."""

    layers: str = ""
    agreement: str = ""
    speed: str = ""
    qt: str = ""
    details: list[str] = field(default_factory=list)


def out(line: str) -> None:
    """The verdict on stdout (absent in a windowed Windows build: then nothing is printed)."""
    if sys.stdout is not None:
        print(line, flush=True)


def say(message: str) -> None:
    if sys.stderr is not None:
        print(f"self-test: {message}", file=sys.stderr, flush=True)
