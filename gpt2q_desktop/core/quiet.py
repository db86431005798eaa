"""Keep torch's deprecation and quantized-tensor warnings, and the ONNX tools' chatter, out of users' faces."""

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


LOGGERS = ("", "torch.onnx", "torch.onnx._internal.exporter", "onnxscript", "torch.export", "torch._dynamo")
"""Loggers that talk while a graph is exported or quantized ("" is the root: ONNX Runtime's quantizer)."""


@contextlib.contextmanager
def quiet_loggers() -> Iterator[None]:
    """Silence :data:`LOGGERS` below ERROR (torchvision ops, onnxscript rewrites, ONNX Runtime's "consider
    pre-processing" advice) while the block runs."""
    levels = {name: logging.getLogger(name).level for name in LOGGERS}
    for name in LOGGERS:
        logging.getLogger(name).setLevel(logging.ERROR)
    try:
        yield
    finally:
        for name, level in levels.items():
            logging.getLogger(name).setLevel(level)
