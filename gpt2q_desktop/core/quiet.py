"""Keep torch's deprecation and quantized-tensor warnings out of users' faces, but in the log."""

from __future__ import annotations

import contextlib
import logging
import warnings
from collections.abc import Iterator

log = logging.getLogger("gpt2q")


@contextlib.contextmanager
def quiet_torch() -> Iterator[None]:
    """Record the warnings raised inside the block and log each distinct one at debug level."""
    with warnings.catch_warnings(record=True) as caught:
        warnings.simplefilter("always")
        yield
    seen: set[str] = set()
    for w in caught:
        text = f"{w.category.__name__}: {str(w.message).splitlines()[0]}"
        if text not in seen:
            seen.add(text)
            log.debug("torch warning hidden from the user: %s", text)
