"""Display helpers shared by views and models."""

from __future__ import annotations


def visible(text: str) -> str:
    """A token with its whitespace made visible (``core.runner.visible_token``).

    Imported on call: the runner imports torch, which is loaded by the time a result exists.
    """
    from ..core.runner import visible_token

    return visible_token(text)
