"""Text helpers shared by the CLI and the window (torch-free)."""

from __future__ import annotations

from pathlib import Path

from .errors import Gpt2qError

_VISIBLE = {" ": "␣", "\n": "↵", "\t": "→", "\r": "␍"}


def visible_token(text: str) -> str:
    """A token with its spaces, newlines and tabs made visible (never stripped to nothing)."""
    if text == "":
        return "∅"
    return "".join(_VISIBLE.get(ch, ch) for ch in text)


def read_prompts(path: Path) -> list[str]:
    """The prompts of a UTF-8 text file, one a line, blank lines skipped."""
    try:
        text = path.read_text(encoding="utf-8")
    except FileNotFoundError:
        raise Gpt2qError(f"The prompts file {path} does not exist.") from None
    except (OSError, UnicodeDecodeError) as exc:
        raise Gpt2qError(f"The prompts file {path} cannot be read as UTF-8 text: {exc}") from None
    prompts = [line for line in text.splitlines() if line.strip()]
    if not prompts:
        raise Gpt2qError(f"The prompts file {path} holds no prompts.")
    return prompts
