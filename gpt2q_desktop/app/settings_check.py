"""The settings file read as untrusted input: every key the window knows, with the check its value must pass.

A person, another version or a broken disk may have written anything there: ``top_k=2147483648``, a list where a
path belongs (``last=a, b``), a rectangle where the window's geometry belongs, keys nothing reads. A value that
fails its check, and a key nothing reads, is logged once (one WARNING line naming the key) and removed, so that
the window uses the default and never writes it back.
"""

from __future__ import annotations

import logging
import re
from collections.abc import Callable
from typing import Any

from PySide6.QtCore import QByteArray, QSettings

from gpt2q_desktop.core.logs import LOGGER
from gpt2q_desktop.core.options import RUN_RANGES
from gpt2q_desktop.core.runtimes import RUNTIME_CHOICES

log = logging.getLogger(LOGGER)
MAX_PATH_CHARS = 4096
"""A remembered path longer than this is no path."""
MAX_BLOCK = 9_999
"""The highest block number remembered among the blocks kept in FP32."""
MAX_RECENT = 8
SHOWN_CHARS = 60
"""A bad value is quoted in the log up to this many characters."""
_BLOCK = re.compile(r"[0-9]{1,%d}" % len(str(MAX_BLOCK)))
_INTEGER = re.compile(r"-?[0-9]{1,12}")


class Unfit(ValueError):
    """A value that fails its check; the message says what it should have been."""


def _path(value: Any) -> str:
    if not isinstance(value, str) or "\0" in value or len(value) > MAX_PATH_CHARS:
        raise Unfit("a folder path")
    return value


def _paths(value: Any) -> list[str]:
    items = [value] if isinstance(value, str) else value
    if not isinstance(items, list):
        raise Unfit("a list of folder paths")
    return [_path(item) for item in items][:MAX_RECENT]


def _flag(value: Any) -> bool:
    if isinstance(value, bool):
        return value
    text = value.strip().lower() if isinstance(value, str) else None
    if text not in ("true", "false", "1", "0"):
        raise Unfit("true or false")
    return text in ("true", "1")


def _blocks(value: Any) -> tuple[int, ...]:
    """Block numbers, stored as ``"0,3"`` (or, written by hand, as the list ``0, 3``); none is ``""``."""
    items = value.split(",") if isinstance(value, str) else value if isinstance(value, list) else [None]
    items = [item.strip() if isinstance(item, str) else "?" for item in items]
    if items == [""]:
        return ()
    if not all(_BLOCK.fullmatch(item) for item in items):
        raise Unfit(f"block numbers from 0 to {MAX_BLOCK}")
    return tuple(sorted({int(item) for item in items}))


def _integer(low: int, high: int) -> Callable[[Any], int]:
    def check(value: Any) -> int:
        number = value if type(value) is int else None
        if isinstance(value, str) and _INTEGER.fullmatch(value.strip()):
            number = int(value)
        if number is None or not low <= number <= high:
            raise Unfit(f"a whole number from {low:,} to {high:,}")
        return number

    return check


def _choice(value: Any) -> str:
    if not isinstance(value, str) or value not in RUNTIME_CHOICES:
        raise Unfit("one of " + ", ".join(RUNTIME_CHOICES))
    return value


def _blob(value: Any) -> QByteArray:
    if not isinstance(value, QByteArray):
        raise Unfit("a window state the window saved")
    return value


def _blobs(value: Any) -> list[QByteArray]:
    items = value if isinstance(value, list) else [value]
    return [_blob(item) for item in items]


CHECKS: dict[str, Callable[[Any], Any]] = {
    "window/geometry": _blob,
    "window/splitters": _blobs,
    "checkpoint/last": _path,
    "checkpoint/tokenizer": _path,
    "checkpoint/recent": _paths,
    "recipe/per_channel": _flag,
    "recipe/keep_lm_head": _flag,
    "recipe/quantize_embeddings": _flag,
    "recipe/exclude_layers": _blocks,
    **{f"run/{name}": _integer(low, high) for name, (low, high) in RUN_RANGES.items()},
    "run/runtime": _choice,
}
"""Every key the window reads, and the check that turns its stored value into what the window uses."""


def checked_values(settings: QSettings) -> dict[str, Any]:
    """The values of *settings* that pass their checks; every other key is logged and removed from *settings*."""
    values: dict[str, Any] = {}
    where = settings.fileName()
    for key in settings.allKeys():
        check = CHECKS.get(key)
        try:
            raw = settings.value(key)
        except Exception as exc:  # a value Qt stored but Python cannot hold
            raw = f"<unreadable: {type(exc).__name__}>"
        try:
            if check is None:
                raise Unfit("")
            values[key] = check(raw)
        except Unfit as exc:
            shown = repr(raw)
            shown = shown if len(shown) <= SHOWN_CHARS else shown[: SHOWN_CHARS - 1] + "…"
            why = f"is not {exc}; the default is used" if check else "is no setting of this app; dropped"
            log.warning("settings: %s=%s in %s %s", key, shown, where, why)
            settings.remove(key)
    return values
