"""Display helpers shared by views and models."""

from __future__ import annotations


def visible(text: str) -> str:
    """A token with its whitespace made visible (``core.runner.visible_token``).

    Imported on call: the runner imports torch, which is loaded by the time a result exists.
    """
    from ..core.runner import visible_token

    return visible_token(text)


def prob_text(p: float) -> str:
    """A probability with three decimals, or in scientific notation when that would show 0.000."""
    return f"{p:.3f}" if p >= 0.0005 else f"{p:.1e}"
