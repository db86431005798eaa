"""Display helpers shared by views and models."""

from __future__ import annotations

from collections.abc import Sequence
from typing import TYPE_CHECKING

from gpt2q_desktop.core.runtimes import Runtime, runtime_label
from gpt2q_desktop.core.text import visible_token

if TYPE_CHECKING:
    from gpt2q_desktop.core.results import ComparisonRow, QuantizeReport


def prob_text(p: float) -> str:
    """A probability with three decimals, or in scientific notation when that would show 0.000."""
    return f"{p:.3f}" if p >= 0.0005 else f"{p:.1e}"


def reports_text(reports: Sequence[QuantizeReport]) -> str:
    """Each INT8 report's summary and notes; PyTorch's named too when ONNX Runtime's is beside it."""
    lines = []
    for report in reports:
        named = len(reports) > 1 and report.runtime == Runtime.TORCH
        lines.append(f"{runtime_label(Runtime.TORCH)}: {report.summary()}" if named else report.summary())
        lines += [f"Note: {note}" for note in report.notes]
    return "\n".join(lines) if lines else "Not quantized yet."


def rows_status(rows: Sequence[ComparisonRow]) -> str:
    """A prompt's rows (one per runtime) in one status line."""
    parts = []
    for row in rows:
        verdict = "same token" if row.agree else "different tokens"
        runtime = f"{runtime_label(row.runtime, row.kernels)}: " if len(rows) > 1 or row.kernels else ""
        fp32, int8 = visible_token(row.fp32.token), visible_token(row.int8.token)
        speed = f"speedup {row.speedup_text()}" if row.noisy else f"INT8 {row.speedup_text()}"  # "INT8 1.25× slower"
        parts.append(f"{runtime}FP32 {fp32} | INT8 {int8}: {verdict}, {speed}")
    return "; ".join(parts)
