"""Typed errors that carry a message a person can act on.

Every failure a user can cause is raised as a subclass of :class:`Gpt2qError`; the CLI prints
``str(error)`` on one line and exits 2, the window shows it in a message box.
"""

from __future__ import annotations

import errno


class Gpt2qError(Exception):
    """Base class of every user-facing error."""


class CheckpointError(Gpt2qError):
    """The chosen folder is not a usable GPT-2 checkpoint."""


class UnsafeCheckpointError(CheckpointError):
    """A weight file could not be loaded safely (pickled code, corrupt or truncated data)."""


class ArchitectureError(CheckpointError):
    """The checkpoint is not a GPT-2 model, or its weights do not fit its config."""


class TokenizerError(CheckpointError):
    """No usable GPT-2 tokenizer was found."""


class PromptError(Gpt2qError):
    """The prompt cannot be run (empty, or tokenizes to nothing)."""


class CacheError(Gpt2qError):
    """The cache could not be written or read."""


class Cancelled(Gpt2qError):
    """The user cancelled a long operation."""

    def __init__(self, message: str = "Cancelled.") -> None:
        super().__init__(message)


def reason_of(exc: BaseException) -> str:
    """What went wrong, on one line; "the disk is full" also when a library only says so in its message."""
    if getattr(exc, "errno", None) == errno.ENOSPC or "No space left on device" in str(exc):
        return "the disk is full"
    text = (exc.strerror if isinstance(exc, OSError) else None) or str(exc) or type(exc).__name__
    return " ".join(text.split())
