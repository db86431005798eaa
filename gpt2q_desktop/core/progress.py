"""How long work reports progress and learns that the user cancelled it (the callbacks every layer passes on)."""

from __future__ import annotations

from collections.abc import Callable

ProgressFn = Callable[[int, int, str], None]
"""``progress(done, total, message)``."""
CancelFn = Callable[[], bool]
"""Returns True when the user asked to stop."""
