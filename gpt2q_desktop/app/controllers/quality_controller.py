"""The Quality lab's controller: sends its jobs to the worker and shows what the core answers."""

from __future__ import annotations

from collections.abc import Callable
from dataclasses import replace
from pathlib import Path
from typing import TYPE_CHECKING, Any

from PySide6.QtCore import QObject
from PySide6.QtWidgets import QFileDialog

from gpt2q_desktop.core.options import RecipeOptions
from gpt2q_desktop.core.paths import demo_heldout_text
from gpt2q_desktop.core.runtimes import Runtime, runtime_label

from ..jobs import ContinueJob, EvaluateJob, Job, OpenJob, SensitivityJob

if TYPE_CHECKING:
    from gpt2q_desktop.core.measure.continuation import ContinuationPair
    from gpt2q_desktop.core.measure.quality import CorpusEval, LayerScore
    from gpt2q_desktop.core.results import QuantizeReport

    from .workbench import Workbench

NOT_QUANTIZED = "INT8 model: not quantized yet."


class QualityController(QObject):
    """Continuations, corpus evaluation and layer sensitivity on the worker thread; exclusions into the recipe.

    The recipe and the runtimes are handed in: *recipe* reads the recipe the user chose, *apply_recipe* changes
    it, *runtimes* reads the runtimes chosen. The continuation and the evaluation run on one runtime: the one
    chosen, or PyTorch when both are; the sensitivity ranking measures PyTorch's recipe.
    """

    def __init__(
        self, main: Workbench, recipe: Callable[[], RecipeOptions],
        apply_recipe: Callable[[RecipeOptions], None], runtimes: Callable[[], tuple[str, ...]],
    ) -> None:  # fmt: skip
        super().__init__(main)
        self.main, self.window = main, main.window
        self.panel = main.window.quality_panel
        self._recipe, self._apply_recipe, self._runtimes = recipe, apply_recipe, runtimes
        self._last: tuple[EvaluateJob, CorpusEval] | None = None
        """The last evaluation shown, and the request that gave it."""
        self._last_continuation: tuple[ContinueJob, float | None] | None = None
        """The last continuation's request and INT8's median milliseconds per token."""
        self._reports: dict[str, QuantizeReport] = {}
        """The last INT8 report per runtime: the lab shows the one of the runtime it runs on."""
        heldout = demo_heldout_text()
        if heldout.is_file():
            self.panel.set_text_file(str(heldout))
        self._connect()
        self._show_runtime()

    def _connect(self) -> None:
        p = self.panel
        p.continuation_requested.connect(self.run_continuation)
        p.evaluation_requested.connect(self.evaluate)
        p.sensitivity_requested.connect(self.sensitivity)
        p.exclude_requested.connect(self.exclude_checked)
        p.choose_text_clicked.connect(self.choose_text)
        p.cancel_clicked.connect(self.main.cancel)
        self.window.quality_lab_opened.connect(self._on_lab_opened)
        self.main.runner.idle.connect(self.panel.show_stopped)
        self.window.quantize_panel.runtime_changed.connect(self._show_runtime)
        self.window.quantize_panel.runtime_changed.connect(self._show_recipe)
        worker = self.main.runner.worker
        worker.started.connect(self._on_started)
        worker.produced.connect(self._on_produced)
        worker.quantized.connect(self._on_quantized)

    def _runtime(self) -> str:
        """The runtime of the continuation and the evaluation: the first chosen (PyTorch, when both are)."""
        return self._runtimes()[0]

    def _show_runtime(self) -> None:
        both = " (with Both chosen, the lab uses PyTorch)" if len(self._runtimes()) > 1 else ""
        self.panel.show_runtime(
            f"Continuations and the corpus evaluation run on {runtime_label(self._runtime())}{both}; "
            f"the per-layer sensitivity measures the {runtime_label(Runtime.TORCH)} recipe."
        )

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

    def sensitivity(self) -> None:
        """Rank the blocks and lm_head by the KL each adds when it alone is INT8."""
        path = self._text_path()
        if path and self.main.can_work():
            self.main.runner.submit(SensitivityJob(path, self.panel.sensitivity_budget(), self._recipe()))

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
        p = self.panel
        self.main.runner.submit(ContinueJob(p.prompt_text(), p.continuation_settings(), self._recipe(), self._runtime()))

    def _submit_evaluation(self, path: str) -> None:
        self.main.runner.submit(EvaluateJob(path, self.panel.eval_budget(), self._recipe(), self._runtime()))

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
            self._reports.clear()
            self.panel.clear_results()
        elif job.lab_tool is not None:
            self.panel.show_running(job.lab_tool)

    def _on_produced(self, job: Job, result: Any) -> None:
        if isinstance(job, OpenJob):
            self._show_recipe()
        elif isinstance(job, ContinueJob):
            self._on_continued(job, result)
        elif isinstance(job, EvaluateJob):
            self._on_evaluated(job, result)
        elif isinstance(job, SensitivityJob):
            self._on_sensitivity(result)

    def _on_quantized(self, job: Job, report: QuantizeReport) -> None:
        self._reports[report.runtime] = report
        self._show_recipe()

    def _show_recipe(self) -> None:
        """The INT8 model the lab's continuation and evaluation use (as last quantized on their runtime)."""
        report = self._reports.get(self._runtime())
        text = NOT_QUANTIZED if report is None else f"INT8 model ({report.recipe_options.describe()}): {report.summary()}"
        self.panel.show_recipe(text)

    def _on_continued(self, job: ContinueJob, pair: ContinuationPair) -> None:
        """Show *pair*; beside INT8's speed, what it was when the same prompt ran last on the same runtime."""
        before = None
        if self._last_continuation is not None:
            asked, previous_ms = self._last_continuation
            if (asked.prompt, asked.runtime) == (job.prompt, job.runtime):
                before = previous_ms
        self.panel.show_continuation(pair, runtime_label(job.runtime), before)
        self._last_continuation = (job, pair.int8.median_ms)

    def _on_evaluated(self, job: EvaluateJob, result: CorpusEval) -> None:
        """Show *result*; beside it what the same text on the same runtime gave under the previous recipe, if that
        was the last shown."""
        before = None
        if self._last is not None:
            asked, previous = self._last
            same_text = (asked.path, asked.max_tokens, asked.runtime) == (job.path, job.max_tokens, job.runtime)
            if same_text and asked.options != job.options:
                before = previous
        name = runtime_label(job.runtime)
        self.panel.show_evaluation(result, name, before)
        self._last = (job, result)
        self.window.show_status(f"Corpus evaluation on {name}: {result.summary()}")

    def _on_sensitivity(self, scores: list[LayerScore]) -> None:
        self.panel.show_sensitivity(scores, list(self._recipe().exclude_layers))
        self.window.show_status(f"Most sensitive: {scores[0].layer}." if scores else "Nothing to rank.")
