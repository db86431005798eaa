"""Display helpers shared by views and models."""

from __future__ import annotations


def prob_text(p: float) -> str:
    """A probability with three decimals, or in scientific notation when that would show 0.000."""
    return f"{p:.3f}" if p >= 0.0005 else f"{p:.1e}"
