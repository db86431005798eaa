"""The Quality lab's controller: sends its jobs to the worker and shows what the core answers."""

from __future__ import annotations

from collections.abc import Callable
from dataclasses import replace
from pathlib import Path
from typing import TYPE_CHECKING, Any

from PySide6.QtCore import QObject
from PySide6.QtWidgets import QFileDialog

from ...core.options import RecipeOptions
from ...core.paths import demo_heldout_text
from ..jobs import ContinueJob, EvaluateJob, Job, OpenJob, RankJob

if TYPE_CHECKING:
    from ...core.quality import ContinuationPair, CorpusEval, LayerScore
    from ...core.quantize import QuantizeReport
    from .main_controller import MainController

NOT_QUANTIZED = "INT8 model: not quantized yet."


class QualityController(QObject):
    """Continuations, corpus evaluation and layer sensitivity on the worker thread; exclusions into the recipe.

    The recipe is handed in: *recipe* reads the one the user chose, *apply_recipe* changes it.
    """

    def __init__(
        self, main: MainController, recipe: Callable[[], RecipeOptions], apply_recipe: Callable[[RecipeOptions], None]
    ) -> None:
        super().__init__(main)
        self.main, self.window = main, main.window
        self.panel = main.window.quality_panel
        self._recipe, self._apply_recipe = recipe, apply_recipe
        self._last: tuple[EvaluateJob, CorpusEval] | None = None
        """The last evaluation shown, and the request that gave it."""
        self._last_continuation: tuple[str, float | None] | None = None
        """The prompt of the last continuation and INT8's median milliseconds per token."""
        heldout = demo_heldout_text()
        if heldout.is_file():
            self.panel.set_text_file(str(heldout))
        self._connect()

    def _connect(self) -> None:
        p = self.panel
        p.continuation_requested.connect(self.run_continuation)
        p.evaluation_requested.connect(self.evaluate)
        p.sensitivity_requested.connect(self.rank_layers)
        p.exclude_requested.connect(self.exclude_checked)
        p.choose_text_clicked.connect(self.choose_text)
        p.cancel_clicked.connect(self.main.cancel)
        self.window.quality_lab_opened.connect(self._on_lab_opened)
        worker = self.main.runner.worker
        worker.started.connect(self._on_started)
        worker.produced.connect(self._on_produced)
        worker.quantized.connect(self._on_quantized)

    # -- jobs -----------------------------------------------------------------------------------
    def run_continuation(self) -> None:
        """Both models continue the lab's prompt (the worker quantizes first if needed)."""
        if self.main.can_work():
            self._submit_continuation()

    def evaluate(self) -> None:
        """Evaluate FP32 against INT8 (the quantize panel's recipe) over the chosen text."""
        path = self._text_path()
        if path and self.main.can_work():
            self._submit_evaluation(path)

    def rank_layers(self) -> None:
        """Rank the blocks and lm_head by the KL each adds when it alone is INT8."""
        path = self._text_path()
        if path and self.main.can_work():
            self.main.runner.submit(RankJob(path, self.panel.rank_budget(), self._recipe()))

    def exclude_checked(self) -> None:
        """Keep the checked blocks in FP32 in the recipe, then quantize, evaluate the text and (with a prompt)
        continue it again, so that KL, agreement, size and speed show where they were."""
        path = self._text_path()
        if path and self.main.can_work():
            self._apply_recipe(replace(self._recipe(), exclude_layers=tuple(self.panel.checked_blocks())))
            self._submit_evaluation(path)
            if self.panel.prompt_text().strip():  # the speed under the new recipe, beside the old one
                self._submit_continuation()

    def _submit_continuation(self) -> None:
        self.main.runner.submit(ContinueJob(self.panel.prompt_text(), self.panel.continuation_settings(), self._recipe()))

    def _submit_evaluation(self, path: str) -> None:
        self.main.runner.submit(EvaluateJob(path, self.panel.eval_budget(), self._recipe()))

    def choose_text(self) -> None:
        start = self.panel.text_file() or str(Path.home())
        path, _ = QFileDialog.getOpenFileName(
            self.window, "Choose a text to evaluate on", start, "Text files (*.txt);;All files (*)"
        )
        if path:
            self.panel.set_text_file(path)

    def _text_path(self) -> str | None:
        path = self.panel.text_file()
        if not path:
            self.window.notify_error("Choose a text file to evaluate on first.")
            return None
        return path

    # -- worker answers -------------------------------------------------------------------------
    def _on_lab_opened(self) -> None:
        self.panel.offer_prompt(self.window.compare_panel.prompt_text())

    def _on_started(self, job: Job) -> None:
        if isinstance(job, OpenJob):  # the figures and the ranking belong to the checkpoint being replaced
            self._last = self._last_continuation = None
            self.panel.clear_results()

    def _on_produced(self, job: Job, result: Any) -> None:
        if isinstance(job, OpenJob):
            self.panel.show_recipe(NOT_QUANTIZED)
        elif isinstance(job, ContinueJob):
            self._on_continued(result)
        elif isinstance(job, EvaluateJob):
            self._on_evaluated(job, result)
        elif isinstance(job, RankJob):
            self._on_ranked(result)

    def _on_quantized(self, job: Job, report: QuantizeReport) -> None:
        self.panel.show_recipe(f"INT8 model ({report.recipe_options.describe()}): {report.summary()}")

    def _on_continued(self, pair: ContinuationPair) -> None:
        fp32_ms, int8_ms = pair.fp32.median_ms, pair.int8.median_ms
        previous = self._last_continuation
        before = previous[1] if previous is not None and previous[0] == pair.prompt else None
        self.panel.show_continuation(pair, fp32_ms, int8_ms, before)
        self._last_continuation = (pair.prompt, int8_ms)
        self.window.show_job_idle("Continued.")

    def _on_evaluated(self, job: EvaluateJob, result: CorpusEval) -> None:
        """Show *result*; beside it what the same text gave under the previous recipe, if that was the last shown."""
        before = None
        if self._last is not None:
            asked, previous = self._last
            if (asked.path, asked.max_tokens) == (job.path, job.max_tokens) and asked.options != job.options:
                before = previous
        self.panel.show_evaluation(result, before)
        self._last = (job, result)
        self.window.show_job_idle("Evaluated.")
        self.window.show_status(f"Corpus evaluation: {result.summary()}")

    def _on_ranked(self, scores: list[LayerScore]) -> None:
        self.panel.show_ranking(scores, list(self._recipe().exclude_layers))
        self.window.show_job_idle("Ranked.")
        self.window.show_status(f"Most sensitive: {scores[0].layer}." if scores else "Nothing to rank.")
