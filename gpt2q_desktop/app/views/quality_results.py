"""How the Quality lab renders a corpus evaluation's figures and a sensitivity ranking's rows."""

from __future__ import annotations

from typing import TYPE_CHECKING

from PySide6.QtCore import Qt
from PySide6.QtWidgets import QFormLayout, QLabel, QListWidgetItem

if TYPE_CHECKING:
    from gpt2q_desktop.core.measure.quality import CorpusEval, LayerScore

FIGURES = (
    "Runtime", "Tokens", "Perplexity FP32", "Perplexity INT8", "KL mean", "KL median", "KL p99", "KL max",
    "Δp p1 / p5 / p50 / p95 / p99", "Top-1 agreement",
)  # fmt: skip


def figures_form() -> tuple[QFormLayout, dict[str, QLabel]]:
    """A form with a selectable "–" label per figure, and those labels by name."""
    form = QFormLayout()
    figures: dict[str, QLabel] = {}
    for name in FIGURES:
        label = QLabel("–")
        label.setTextInteractionFlags(Qt.TextInteractionFlag.TextSelectableByMouse)
        figures[name] = label
        form.addRow(f"{name}:", label)
    return form, figures


def show_figures(
    figures: dict[str, QLabel], result: CorpusEval, runtime_name: str, before: CorpusEval | None = None
) -> None:
    """The core's figures and the runtime they are from; with *before* (the same text under the previous
    recipe), what they were."""

    def was(now: str, then: str | None) -> str:
        return now if then is None else f"{now} (was {then})"

    f, b = figures, before
    dp = result.delta_p
    f["Runtime"].setText(runtime_name)
    f["Tokens"].setText(f"{result.tokens:,}")
    f["Perplexity FP32"].setText(f"{result.ppl_fp32:.2f}")
    f["Perplexity INT8"].setText(was(f"{result.ppl_int8:.2f}", b and f"{b.ppl_int8:.2f}"))
    f["KL mean"].setText(was(f"{result.kl_mean:.2e} nats", b and f"{b.kl_mean:.2e}"))
    f["KL median"].setText(was(f"{result.kl_median:.2e} nats", b and f"{b.kl_median:.2e}"))
    f["KL p99"].setText(was(f"{result.kl_p99:.2e} nats", b and f"{b.kl_p99:.2e}"))
    f["KL max"].setText(f"{result.kl_max:.2e} nats")
    f["Δp p1 / p5 / p50 / p95 / p99"].setText(" / ".join(f"{dp[k]:+.4f}" for k in ("p1", "p5", "p50", "p95", "p99")))
    f["Top-1 agreement"].setText(was(f"{result.top1_agreement:.1%}", b and f"{b.top1_agreement:.1%}"))


def sensitivity_item(score: LayerScore, excluded: list[int]) -> QListWidgetItem:
    """A ranking row holding its block number; checkable (checked if in *excluded*) only for a block."""
    block = score.block
    item = QListWidgetItem(f"{score.layer}: KL {score.kl_mean:.2e} nats, same top token {score.top1_agreement:.1%}")
    item.setData(Qt.ItemDataRole.UserRole, block)
    if block is None:
        item.setFlags(item.flags() & ~Qt.ItemFlag.ItemIsUserCheckable)
        item.setToolTip("Set with “Keep lm_head FP32” and “Embeddings INT8” in the quantize panel")
    else:
        item.setFlags(item.flags() | Qt.ItemFlag.ItemIsUserCheckable)
        item.setCheckState(Qt.CheckState.Checked if block in excluded else Qt.CheckState.Unchecked)
    return item
