"""The Quality lab's controller: sends its jobs to the engine and shows what the core answers."""

from __future__ import annotations

from pathlib import Path
from typing import TYPE_CHECKING, Any

from PySide6.QtCore import QObject
from PySide6.QtWidgets import QFileDialog

from ...core.options import RecipeOptions
from ...core.paths import demo_heldout_text
from ..workers import JOB_CONTINUE, JOB_EVALUATE, JOB_OPEN, JOB_SENSITIVITY, Opened

if TYPE_CHECKING:
    from ...core.engine import QuantizeReport
    from ...core.quality import ContinuationPair, CorpusEval, LayerScore
    from .main_controller import MainController

NOT_QUANTIZED = "INT8 model: not quantized yet."


class QualityController(QObject):
    """Continuations, corpus evaluation and layer sensitivity on the engine thread; exclusions into the recipe."""

    def __init__(self, main: MainController) -> None:
        super().__init__(main)
        self.main = main
        self.panel = main.window.quality_panel
        self._asked: tuple[str, int, dict[str, Any]] | None = None
        """The text, max tokens and recipe of the evaluation under way."""
        self._last: tuple[str, int, dict[str, Any], CorpusEval] | None = None
        """The same, with the result, for the last evaluation shown."""
        self._last_continuation: tuple[str, float | None] | None = None
        """The prompt of the last continuation and INT8's median milliseconds per token."""
        heldout = demo_heldout_text()
        if heldout.is_file():
            self.panel.text_path.setText(str(heldout))
        self._connect()

    def _connect(self) -> None:
        p, w = self.panel, self.main.window
        p.continuation_requested.connect(self.run_continuation)
        p.evaluation_requested.connect(self.evaluate)
        p.sensitivity_requested.connect(self.rank_layers)
        p.exclude_requested.connect(self.exclude_checked)
        p.choose_text_clicked.connect(self.choose_text)
        p.cancel_clicked.connect(self.main.cancel)
        self.main.actions_changed.connect(self.update_actions)
        w.tabs.currentChanged.connect(self._on_tab_changed)
        worker = self.main.engine.worker
        worker.started.connect(self._on_started)
        worker.opened.connect(self._on_opened)
        worker.quantized.connect(self._on_quantized)
        worker.continued.connect(self._on_continued)
        worker.evaluated.connect(self._on_evaluated)
        worker.ranked.connect(self._on_ranked)
        worker.finished.connect(self._on_finished)

    def update_actions(self, ready: bool, free: bool) -> None:
        """Enable the lab's buttons when a checkpoint is open and no job is under way."""
        p = self.panel
        for button in (p.continue_button, p.evaluate_button, p.rank_button):
            button.setEnabled(ready and free)
        p.exclude_button.setEnabled(ready and free and p.blocks.count() > 0)

    # -- jobs -----------------------------------------------------------------------------------
    def run_continuation(self) -> None:
        """Both models continue the lab's prompt (the engine quantizes first if needed)."""
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
            max_tokens, options = self.panel.rank_tokens.value(), self.main.window.quantize_panel.options()
            self.main.submit(JOB_SENSITIVITY, lambda: self.main.engine.sensitivity(path, max_tokens, options))

    def exclude_checked(self) -> None:
        """Keep the checked blocks in FP32 in the recipe, then quantize, evaluate the text and (with a prompt)
        continue it again, so that KL, agreement, size and speed show where they were."""
        path = self._text_path()
        if path and self.main.can_work():
            quantize_panel = self.main.window.quantize_panel
            options = quantize_panel.options()
            options["exclude_layers"] = self.panel.checked_blocks()
            quantize_panel.set_options(options)
            self._submit_evaluation(path)
            if self.panel.prompt.text().strip():  # the speed under the new recipe, beside the old one
                self._submit_continuation()

    def _submit_continuation(self) -> None:
        prompt, settings = self.panel.prompt.text(), self.panel.continuation_settings()
        options = self.main.window.quantize_panel.options()
        self.main.submit(
            JOB_CONTINUE,
            lambda: self.main.engine.continuation(
                prompt, int(settings["n_tokens"]), float(settings["temperature"]), int(settings["seed"]), options
            ),
        )

    def _submit_evaluation(self, path: str) -> None:
        max_tokens, options = self.panel.eval_tokens.value(), self.main.window.quantize_panel.options()
        self._asked = (path, max_tokens, options)
        self.main.submit(JOB_EVALUATE, lambda: self.main.engine.evaluate(path, max_tokens, options))

    def choose_text(self) -> None:
        start = self.panel.text_path.text() or str(Path.home())
        path, _ = QFileDialog.getOpenFileName(
            self.main.window, "Choose a text to evaluate on", start, "Text files (*.txt);;All files (*)"
        )
        if path:
            self.panel.text_path.setText(path)

    def _text_path(self) -> str | None:
        path = self.panel.text_path.text().strip()
        if not path:
            self.main.window.notify_error("Choose a text file to evaluate on first.")
            return None
        return path

    # -- engine answers -------------------------------------------------------------------------
    def _on_tab_changed(self, index: int) -> None:
        w = self.main.window
        if w.tabs.widget(index) is self.panel and not self.panel.prompt.text():
            self.panel.prompt.setText(w.compare_panel.prompt.text())

    def _on_started(self, job: str) -> None:
        if job == JOB_OPEN:  # the figures and the ranking belong to the checkpoint being replaced
            self._last = self._last_continuation = None
            self.panel.clear_results()

    def _on_opened(self, opened: Opened) -> None:
        self.panel.show_recipe(NOT_QUANTIZED)

    def _on_quantized(self, report: QuantizeReport) -> None:
        recipe = RecipeOptions.from_dict(report.options).describe()
        self.panel.show_recipe(f"INT8 model ({recipe}): {report.summary()}")

    def _on_continued(self, pair: ContinuationPair) -> None:
        fp32_ms, int8_ms = pair.fp32.median_ms, pair.int8.median_ms
        previous = self._last_continuation
        before = previous[1] if previous is not None and previous[0] == pair.prompt else None
        self.panel.show_continuation(pair, fp32_ms, int8_ms, before)
        self._last_continuation = (pair.prompt, int8_ms)
        self.main.set_idle("Continued.")

    def _on_evaluated(self, result: CorpusEval) -> None:
        before = None
        if self._asked is not None and self._last is not None:
            path, max_tokens, options, previous = self._last
            if (path, max_tokens) == self._asked[:2] and options != self._asked[2]:
                before = previous
        self.panel.show_evaluation(result, before)
        if self._asked is not None:
            self._last = (*self._asked, result)
        self.main.set_idle("Evaluated.")
        self.main.window.show_status(f"Corpus evaluation: {result.summary()}")

    def _on_ranked(self, scores: list[LayerScore]) -> None:
        excluded = self.main.window.quantize_panel.options()["exclude_layers"]
        self.panel.show_ranking(scores, excluded)
        self.main.set_idle("Ranked.")
        self.main.window.show_status(f"Most sensitive: {scores[0].layer}." if scores else "Nothing to rank.")

    def _on_finished(self, job: str) -> None:
        if job == JOB_EVALUATE:
            self._asked = None
