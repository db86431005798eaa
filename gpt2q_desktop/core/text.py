"""Text helpers shared by the CLI and the window (torch-free)."""

from __future__ import annotations

import re
import unicodedata
from pathlib import Path

from gpt2q_desktop.core.errors import Gpt2qError, PromptError
from gpt2q_desktop.core.files import NotARegularFile, file_problem, open_regular

_VISIBLE = {" ": "␣", "\n": "↵", "\t": "→", "\r": "␍"}
_BIDI_CONTROLS = frozenset("\u061c\u200e\u200f\u202a\u202b\u202c\u202d\u202e\u2066\u2067\u2068\u2069")
_HIDDEN_CATEGORIES = frozenset({"Cc", "Cs", "Zl", "Zp"})  # controls, lone surrogates, line/paragraph separators
_LINE_BREAK = re.compile(r"\r?\n")


def visible_token(text: str) -> str:
    """A token with its spaces, newlines and tabs made visible (never stripped to nothing)."""
    if text == "":
        return "∅"
    return "".join(_VISIBLE.get(ch, ch) for ch in text)


def _shown(ch: str) -> str:
    code = ord(ch)
    if code < 0x20:
        return chr(0x2400 + code)  # the Control Pictures block: BEL → ␇, ESC → ␛, LF → ␊
    return "␡" if code == 0x7F else f"<U+{code:04X}>"


def printable(text: str) -> str:
    """*text* safe to write to a terminal: C0 controls as symbols (BEL ␇, ESC ␛, newline ␊), C1 controls,
    line separators, bidi overrides and lone surrogates as ``<U+XXXX>``; everything else unchanged."""
    return "".join(
        _shown(ch) if ch in _BIDI_CONTROLS or unicodedata.category(ch) in _HIDDEN_CATEGORIES else ch for ch in text
    )


def counted(n: int, noun: str, plural: str | None = None) -> str:
    """*n* with its noun: "1 thread", "2 threads" (*plural* where adding "s" is wrong)."""
    return f"{n:,} {noun if n == 1 else plural or noun + 's'}"


def time_left(seconds: float) -> str:
    """A rough remaining time: ``about 40 s left``, ``about 2 min left``, ``about 1 h 5 min left``."""
    seconds = max(1, round(seconds))
    if seconds < 60:
        return f"about {seconds} s left"
    minutes = round(seconds / 60)
    if minutes < 60:
        return f"about {minutes} min left"
    return f"about {minutes // 60} h {minutes % 60} min left"


def read_prompts(path: Path) -> list[str]:
    """The prompts of a UTF-8 text file (a BOM is dropped), one a line, blank lines skipped.

    Only ``\\n`` and ``\\r\\n`` end a line: form feeds, U+0085 or U+2028 inside a line stay in its prompt.
    """
    try:
        with open_regular(path) as fh:
            text = fh.read().decode("utf-8-sig")  # no universal newlines: a lone \r splits nothing
    except FileNotFoundError:
        raise Gpt2qError(f"The prompts file {path} does not exist.") from None
    except NotARegularFile:
        raise Gpt2qError(f"The prompts file {path} {file_problem(path)}.") from None
    except (OSError, UnicodeDecodeError) as exc:
        raise Gpt2qError(f"The prompts file {path} cannot be read as UTF-8 text: {exc}") from None
    prompts = [line for line in _LINE_BREAK.split(text) if line.strip()]
    if not prompts:
        raise Gpt2qError(f"The prompts file {path} holds no prompts.")
    return prompts


def check_prompt(text: str) -> None:
    """Refuse, before anything is loaded, a prompt that is empty or not valid text (a lone surrogate, U+D800..U+DFFF:
    what Python makes of bytes that are not UTF-8)."""
    if not text or not text.strip():
        raise PromptError("The prompt is empty: type some text to predict its next token.")
    try:
        text.encode("utf-8")
    except UnicodeEncodeError as exc:
        raise PromptError(
            f"The prompt is not valid text: character {exc.start + 1} is a lone surrogate "
            f"(U+{ord(text[exc.start]):04X}), as from bytes that are not UTF-8; pass the prompt as UTF-8."
        ) from None
