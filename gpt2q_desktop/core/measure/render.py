"""Comparison rows rendered as a text table, CSV, JSON or Markdown."""

from __future__ import annotations

import csv
import io
import json
import unicodedata
from collections.abc import Sequence
from typing import TYPE_CHECKING

from gpt2q_desktop.core.measure.metrics import percentile
from gpt2q_desktop.core.runtimes import Runtime, runtime_label
from gpt2q_desktop.core.text import printable, visible_token

if TYPE_CHECKING:
    from gpt2q_desktop.core.results import ComparisonRow

FORMATS = ("table", "json", "csv", "markdown")
COLUMNS = (
    "prompt", "runtime", "fp32_token", "fp32_id", "fp32_prob", "fp32_median_ms", "fp32_p90_ms",
    "int8_token", "int8_id", "int8_prob", "int8_median_ms", "int8_p90_ms",
    "agree", "kl", "top5_overlap", "speedup", "threads", "noisy", "checkpoint", "recipe", "time", "kernels",
)  # fmt: skip
"""CSV's columns; ``kernels`` (the INT8 kernels PyTorch ran on, empty on ONNX Runtime) came last, after the others."""


def flat_row(row: ComparisonRow) -> dict[str, object]:
    """One row as flat, export-ready values (tokens kept raw; the views make whitespace visible)."""
    return {
        "prompt": row.prompt,
        "runtime": row.runtime,
        "fp32_token": row.fp32.token,
        "fp32_id": row.fp32.token_id,
        "fp32_prob": row.fp32.prob,
        "fp32_median_ms": row.fp32.timing.median_ms,
        "fp32_p90_ms": row.fp32.timing.p90_ms,
        "int8_token": row.int8.token,
        "int8_id": row.int8.token_id,
        "int8_prob": row.int8.prob,
        "int8_median_ms": row.int8.timing.median_ms,
        "int8_p90_ms": row.int8.timing.p90_ms,
        "agree": row.agree,
        "kl": row.kl,
        "top5_overlap": row.top5_overlap,
        "speedup": row.speedup,
        "threads": row.threads,
        "noisy": row.noisy,
        "checkpoint": row.checkpoint,
        "recipe": row.recipe,
        "time": row.time,
        "kernels": row.kernels or "",
    }


def _short(text: str, width: int = 28) -> str:
    """The start of *text* on one line, at most *width* characters (a huge prompt is never scanned whole)."""
    head = text[: width + 1]
    head = visible_token(head) if head.strip() == "" else head.replace("\n", "↵")
    return head if len(head) <= width else head[: width - 1] + "…"


def _display_cells(row: ComparisonRow, whole_prompt: bool = False) -> list[str]:
    """The table and Markdown cells of *row*: terminal-safe, no raw control or bidi character; the prompt cut
    to a column's width unless *whole_prompt* (Markdown: exports never cut a prompt)."""
    cells = [
        row.prompt.replace("\r\n", "↵").replace("\n", "↵") if whole_prompt else _short(row.prompt),
        runtime_label(row.runtime, row.kernels), str(row.threads),
        f"{visible_token(row.fp32.token)} ({row.fp32.token_id})", f"{row.fp32.prob:.3f}",
        f"{row.fp32.timing.median_ms:.2f}", f"{row.fp32.timing.p90_ms:.2f}",
        f"{visible_token(row.int8.token)} ({row.int8.token_id})", f"{row.int8.prob:.3f}",
        f"{row.int8.timing.median_ms:.2f}", f"{row.int8.timing.p90_ms:.2f}",
        "yes" if row.agree else "NO", f"{row.kl:.2e}", f"{row.speedup:.2f}×" + (" NOISY" if row.noisy else ""),
    ]  # fmt: skip
    return [printable(cell) for cell in cells]


_HEADERS = [
    "prompt", "runtime", "threads", "FP32 token", "p", "median ms", "p90 ms",
    "INT8 token", "p", "median ms", "p90 ms", "agree", "KL", "speedup",
]  # fmt: skip


def _cols(text: str) -> int:
    """Terminal columns of *text*: East Asian wide and full-width characters take two."""
    return sum(2 if unicodedata.east_asian_width(ch) in "WF" else 1 for ch in text)


def _pad(text: str, width: int) -> str:
    return text + " " * (width - _cols(text))


def render(rows: Sequence[ComparisonRow], fmt: str) -> str:
    """*rows* in one of :data:`FORMATS`."""
    if fmt == "json":
        return json.dumps([r.as_dict() for r in rows], indent=2, ensure_ascii=False)
    if fmt == "csv":
        buf = io.StringIO()
        writer = csv.DictWriter(buf, fieldnames=COLUMNS, lineterminator="\n")
        writer.writeheader()
        writer.writerows(flat_row(r) for r in rows)
        return buf.getvalue()
    if fmt == "markdown":
        esc = [[c.replace("|", "\\|") for c in _display_cells(r, whole_prompt=True)] for r in rows]
        lines = ["| " + " | ".join(_HEADERS) + " |", "|" + "---|" * len(_HEADERS)]
        return "\n".join(lines + ["| " + " | ".join(line) + " |" for line in esc]) + "\n"
    if fmt != "table":
        raise ValueError(f"unknown format {fmt!r}")
    cells = [_display_cells(r) for r in rows]
    widths = [max(len(h), *(_cols(c[i]) for c in cells)) if cells else len(h) for i, h in enumerate(_HEADERS)]
    out = ["  ".join(_pad(h, w) for h, w in zip(_HEADERS, widths))]
    out.append("  ".join("-" * w for w in widths))
    out += ["  ".join(_pad(c, w) for c, w in zip(line, widths)) for line in cells]
    return "\n".join(line.rstrip() for line in out) + "\n"  # the last column is not padded out


def _line(rows: Sequence[ComparisonRow]) -> str:
    agree = sum(r.agree for r in rows)
    kl = sum(r.kl for r in rows) / len(rows)
    clean = [r.speedup for r in rows if not r.noisy]
    speed = f"median speedup {percentile(clean, 50):.2f}×" if clean else "speedup unreliable"
    noisy = len(rows) - len(clean)
    marked = f" ({noisy} noisy row{'s' if noisy > 1 else ''} left out)" if noisy and clean else ""
    return f"{len(rows)} prompt{'s' if len(rows) > 1 else ''}: top-1 agreement {agree}/{len(rows)}, mean KL {kl:.2e}, {speed}{marked}"


def noise_line(rows: Sequence[ComparisonRow]) -> str:
    """The first noisy row's cause and fix, for the rows marked NOISY; "" when every timing is clean."""
    noisy = [r for r in rows if r.noisy]
    return f"NOISY: {noisy[0].noise_text()}" if noisy else ""


def fastest_int8(rows: Sequence[ComparisonRow]) -> str:
    """In words, which runtime's INT8 is fastest against PyTorch FP32 (median over the prompts); "" unless
    rows of several runtimes include PyTorch's."""
    by_runtime: dict[str, list[ComparisonRow]] = {}
    for r in rows:
        by_runtime.setdefault(r.runtime, []).append(r)
    if len(by_runtime) < 2 or Runtime.TORCH not in by_runtime:
        return ""
    if any(r.noisy for r in rows):
        return "fastest INT8: unreliable (noisy timing)"
    base = percentile([r.fp32.timing.median_ms for r in by_runtime[Runtime.TORCH]], 50)
    int8 = {rt: percentile([r.int8.timing.median_ms for r in rs], 50) for rt, rs in by_runtime.items()}
    best = min(int8, key=lambda rt: int8[rt])
    ratio = base / int8[best]
    than = f"{ratio:.2f}× faster than" if ratio >= 1 else f"{1 / ratio:.2f}× slower than"
    return f"fastest INT8: {runtime_label(best)}, {than} PyTorch FP32"


def summary(rows: Sequence[ComparisonRow]) -> str:
    """Agreement, mean KL and median speedup over *rows* (a line per runtime when several ran, then the fastest INT8)."""
    if not rows:
        return "no prompts"
    runtimes = list(dict.fromkeys(r.runtime for r in rows))
    if len(runtimes) == 1:
        lines = [_line(rows)]
    else:
        lines = [f"{runtime_label(rt)}: {_line([r for r in rows if r.runtime == rt])}" for rt in runtimes]
        lines.append(fastest_int8(rows))
    lines.append(noise_line(rows))
    return "\n".join(line for line in lines if line)
