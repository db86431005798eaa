"""How the Quality lab renders a continuation: the coloured text, the verdict, and the box that holds them."""

from __future__ import annotations

import html
from typing import TYPE_CHECKING

from PySide6.QtWidgets import QLabel, QTextEdit, QVBoxLayout, QWidget

from ...core.text import visible_token

if TYPE_CHECKING:
    from ...core.quality import ContinuationPair

DIVERGENCE_COLOR = "#ffd966"
PROMPT_COLOR = "#808080"


def shown_token(token: str) -> str:
    """A generated token as the lab shows it: made visible only when it is whitespace (or empty)."""
    return token if token.strip() else visible_token(token)


def continuation_html(prompt: str, tokens: tuple[str, ...], divergence: int | None) -> str:
    """The prompt in grey, then the tokens; the token at *divergence* on a coloured background."""
    parts = [f'<span style="color:{PROMPT_COLOR}">{html.escape(prompt)}</span>']
    for i, token in enumerate(tokens):
        text = html.escape(shown_token(token))
        parts.append(f'<span style="background-color:{DIVERGENCE_COLOR}">{text}</span>' if i == divergence else text)
    return f'<div style="white-space:pre-wrap">{"".join(parts)}</div>'


def divergence_text(pair: ContinuationPair) -> str:
    """Where the two continuations part (or that they agree), with the core's note if any."""
    if pair.first_divergence is None:
        verdict = f"The two continuations agree on all {len(pair.fp32.tokens)} tokens."
    else:
        i = pair.first_divergence
        fp32 = shown_token(pair.fp32.tokens[i]) if i < len(pair.fp32.tokens) else "–"
        int8 = shown_token(pair.int8.tokens[i]) if i < len(pair.int8.tokens) else "–"
        verdict = f"They part at token {i + 1}: FP32 “{fp32}”, INT8 “{int8}”."
    return f"{verdict} Note: {pair.note}." if pair.note else verdict


def reading_box(title: str) -> tuple[QWidget, QTextEdit, QLabel]:
    """A titled read-only text with a latency line under it."""
    box = QWidget()
    text = QTextEdit()
    text.setReadOnly(True)
    text.setMinimumHeight(70)
    text.setMaximumHeight(140)
    latency = QLabel("– ms per token")
    layout = QVBoxLayout(box)
    layout.setContentsMargins(0, 0, 0, 0)
    layout.addWidget(QLabel(f"<b>{title}</b>"))
    layout.addWidget(text, 1)
    layout.addWidget(latency)
    return box, text, latency
