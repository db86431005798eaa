"""The main controller: gives the window's buttons and actions their meaning, and shows what the worker answers."""

from __future__ import annotations

import logging
import textwrap
from pathlib import Path
from typing import TYPE_CHECKING, Any

from PySide6.QtCore import QObject, QUrl, Signal
from PySide6.QtGui import QDesktopServices
from PySide6.QtWidgets import QFileDialog

from gpt2q_desktop.core.checkpoints.checkpoint import CheckpointInfo
from gpt2q_desktop.core.errors import Gpt2qError
from gpt2q_desktop.core.logs import LOGGER, log_file
from gpt2q_desktop.core.paths import demo_student_dir
from gpt2q_desktop.core.text import read_prompts

from ..display import reports_text, rows_status
from ..jobs import CompareJob, Job, OpenJob, QuantizeJob
from ..log_bridge import QtLogHandler
from ..models.history_model import HistoryModel
from ..settings import AppSettings
from ..throttle import Throttle
from ..views.about import about_box
from ..views.main_window import MainWindow
from ..worker import JobRunner
from .cache_controller import CacheController
from .checkpoint_controller import BUSY, CheckpointController, demo_available
from .export_controller import ExportController
from .history_controller import HistoryController
from .quality_controller import QualityController

if TYPE_CHECKING:
    from gpt2q_desktop.core.results import ComparisonRow, QuantizeReport

log = logging.getLogger(LOGGER)
SHOW_ROWS_EVERY_MS = 250
"""A prompt list's rows go to the history at once, to the cards and the status bar at most this often."""
FAILED_CHARS = 120
"""A failure's message, shortened to this in the activity line (the status bar and the log have it whole)."""


class MainController(QObject):
    """Owns the job runner, the history and the settings; the window only lays out."""

    idle = Signal()
    """Every requested job has finished."""

    def __init__(self, window: MainWindow, history: HistoryModel, settings: AppSettings, runner: JobRunner) -> None:
        super().__init__(window)
        self.window, self.history, self.settings, self.runner = window, history, settings, runner
        self.checkpoints = CheckpointController(window, settings, runner)
        self._latest_rows = Throttle(self._show_rows, SHOW_ROWS_EVERY_MS, self)
        self._prompt_rows: list[ComparisonRow] = []
        """The rows of the prompt being compared, until it has one per runtime."""
        self._reports: dict[str, QuantizeReport] = {}
        """The last INT8 report per runtime, all of one recipe."""
        self._cache: CacheController | None = None
        self._log_handler = QtLogHandler()
        self._log_handler.emitter.record.connect(window.log_dock.append)
        logging.getLogger(LOGGER).addHandler(self._log_handler)
        self.history_controller = HistoryController(window, history)  # after the log pane: it may warn
        self._connect()
        qp = window.quantize_panel
        QualityController(self, qp.options, qp.set_options, qp.runtimes)  # kept by its Qt parent
        self.export_controller = ExportController(self, qp.options)

    # -- wiring ---------------------------------------------------------------------------------
    def _connect(self) -> None:
        w, qp = self.window, self.window.quantize_panel
        qp.quantize_clicked.connect(self.quantize)
        qp.cancel_clicked.connect(self.cancel)
        qp.runtime_changed.connect(self._on_runtime_changed)
        w.compare_panel.run_requested.connect(self.run_prompt)
        w.history_panel.prompt_list_clicked.connect(self.choose_prompt_list)
        w.act_prompt_list.triggered.connect(self.choose_prompt_list)
        w.act_cache.triggered.connect(self.show_cache_manager)
        w.act_data_folder.triggered.connect(CacheController.open_data_folder)
        w.act_quantize.triggered.connect(self.quantize)
        w.act_run.triggered.connect(self._run_current_tab)
        w.act_cancel.triggered.connect(self.cancel)
        w.act_log_file.triggered.connect(self.open_log_file)
        w.act_about.triggered.connect(lambda: about_box(w).show())
        w.closing.connect(self.shutdown)
        self.runner.changed.connect(self._update_actions)
        self.checkpoints.changed.connect(self._update_actions)
        self.runner.idle.connect(self._latest_rows.flush)  # before the idle signal: the last row is shown
        self.runner.idle.connect(self.history_controller.flush_chart)
        self.runner.idle.connect(w.compare_panel.show_stopped)  # after the flush: the last rows are shown
        self.runner.idle.connect(self.idle)
        worker = self.runner.worker
        worker.started.connect(self._on_started)
        worker.progress.connect(self._on_progress)
        worker.succeeded.connect(self._on_succeeded)
        worker.produced.connect(self._on_produced)
        worker.quantized.connect(self._on_quantized)
        worker.failed.connect(self._on_failed)
        worker.cancelled.connect(self._on_cancelled)

    def restore_window(self) -> None:
        """Put back the remembered geometry and options (call before the window is shown)."""
        geometry = self.settings.geometry
        if geometry is not None:
            self.window.restoreGeometry(geometry)
        self.window.restore_splitters(self.settings.splitters)
        self.window.quantize_panel.set_options(self.settings.options)
        self.window.quantize_panel.set_runtime_choice(self.settings.runtime)
        self.window.compare_panel.set_settings(self.settings.run)
        self.checkpoints.refresh_sources()
        self._update_actions()

    def start(self, checkpoint: str | None = None, restore: bool = True) -> None:
        """Say what became of the history database, if anything; open *checkpoint*, else (with *restore*) the
        last one used, else the demo student."""
        self.history_controller.show_messages()
        opening = self.checkpoints.open_checkpoint
        if checkpoint:
            opening(checkpoint)
        elif restore and self.settings.last_checkpoint and Path(self.settings.last_checkpoint).is_dir():
            opening(self.settings.last_checkpoint, self.settings.last_tokenizer)
        elif restore and demo_available():
            opening(str(demo_student_dir()))
        else:
            self.window.checkpoint_panel.show_message(
                "The bundled demo student is not installed. Open a checkpoint folder (Ctrl+O) or drop one here."
            )
        self.window.compare_panel.focus_prompt()

    # -- state ----------------------------------------------------------------------------------
    @property
    def busy(self) -> bool:
        """True while any job is queued or running."""
        return self.runner.busy

    @property
    def info(self) -> CheckpointInfo | None:
        """The checkpoint open now (None before one is, and after one failed to load)."""
        return self.checkpoints.info

    def _on_runtime_changed(self) -> None:
        self.window.compare_panel.set_runtimes(self.window.quantize_panel.runtimes())
        self._show_reports()

    def _update_actions(self) -> None:
        """A job needs an open checkpoint and no other job under way; opening another checkpoint needs no job
        under way (an open may be); cancel needs a job queued or running."""
        free = not self.runner.working
        ready = self.info is not None and free
        self.window.enable_actions(start_jobs=ready, open_checkpoints=free, cancel=self.runner.busy)

    def can_work(self) -> bool:
        """True if a job may start now; otherwise say why."""
        if self.info is None:
            self.window.notify_error("Open a checkpoint folder first (Ctrl+O).")
            return False
        if self.runner.working:
            self.window.show_status(BUSY)
            return False
        return True

    # -- jobs -----------------------------------------------------------------------------------
    def quantize(self) -> None:
        if self.can_work():
            qp = self.window.quantize_panel
            self.runner.submit(QuantizeJob(qp.options(), qp.runtimes()))

    def _run_current_tab(self) -> None:
        """Ctrl+R / F5: the Compare tab's prompt, or the Quality lab's continuation when that tab is shown."""
        w = self.window
        if w.quality_lab_shown():
            w.quality_panel.continuation_requested.emit()
        else:
            self.run_prompt(w.compare_panel.prompt_text())

    def run_prompt(self, text: str) -> None:
        """Compare FP32 and INT8 on *text* (the worker quantizes first if needed)."""
        self.run_prompts([text])

    def run_prompts(self, prompts: list[str]) -> None:
        if self.can_work():
            settings, qp = self.window.compare_panel.settings(), self.window.quantize_panel
            self.runner.submit(CompareJob(tuple(prompts), settings, qp.options(), qp.runtimes()))

    def run_prompt_file(self, path: str) -> None:
        """Run every non-blank line of a UTF-8 text file as a prompt."""
        try:
            prompts = read_prompts(Path(path))
        except Gpt2qError as exc:
            log.warning("Prompt list not run: %s", exc)
            self.window.notify_error(str(exc))
            return
        self.run_prompts(prompts)

    def choose_prompt_list(self) -> None:
        path, _ = QFileDialog.getOpenFileName(
            self.window, "Run a prompt list", str(Path.home()), "Text files (*.txt);;All files (*)"
        )
        if path:
            self.run_prompt_file(path)

    def cancel(self) -> None:
        if self.runner.busy:
            self.runner.cancel()
            self.window.show_cancelling()

    # -- worker answers -------------------------------------------------------------------------
    def _on_started(self, job: Job) -> None:
        self._prompt_rows = []
        if isinstance(job, OpenJob):  # the reports belong to the checkpoint being replaced
            self._reports.clear()
        if isinstance(job, CompareJob):
            self.window.compare_panel.show_running(job.prompts)
        self.window.show_job_started(job.starting)

    def _on_progress(self, job: Job, done: int, total: int, message: str) -> None:
        self.window.show_job_progress(done, total, message)

    def _on_produced(self, job: Job, result: Any) -> None:
        if isinstance(job, CompareJob):
            self._on_compared(job, result)

    def _on_quantized(self, job: Job, report: QuantizeReport) -> None:
        """Keep *report* (dropping other runtimes' reports of another recipe) and show those of the runtimes chosen."""
        options = report.recipe_options
        self._reports = {r: kept for r, kept in self._reports.items() if kept.recipe_options == options}
        self._reports[report.runtime] = report
        self._show_reports()
        self.window.show_status(f"INT8 ready: {report.summary()}")

    def _show_reports(self) -> None:
        chosen = [self._reports[r] for r in self.window.quantize_panel.runtimes() if r in self._reports]
        self.window.quantize_panel.show_result(reports_text(chosen))

    def _on_compared(self, job: CompareJob, row: ComparisonRow) -> None:
        self.history_controller.add(row)
        self._prompt_rows.append(row)
        if len(self._prompt_rows) == len(job.runtimes):
            self._latest_rows.push(tuple(self._prompt_rows))
            self._prompt_rows = []

    def _show_rows(self, rows: tuple[ComparisonRow, ...]) -> None:
        self.window.compare_panel.show_rows(rows)
        self.window.show_status(rows_status(rows))

    def _on_succeeded(self, job: Job) -> None:
        self.window.show_job_ended(job.done(), True, job.lab_tool is not None)

    def _on_failed(self, job: Job, text: str) -> None:
        self._latest_rows.flush()  # its status line first, so that the failure is what stays in view
        short = textwrap.shorten(text, FAILED_CHARS, placeholder=" …")
        self.window.show_job_ended(f"Failed: {short}", False, job.lab_tool is not None)
        self.window.notify_error(text)

    def _on_cancelled(self, job: Job, text: str) -> None:
        self._latest_rows.flush()
        self.window.show_job_ended(f"Cancelled: {text}", False, job.lab_tool is not None)
        self.window.show_status(text)

    # -- the rest -------------------------------------------------------------------------------
    def show_cache_manager(self) -> None:
        if self._cache is None:
            self._cache = CacheController(self.window)
        self._cache.show()

    def open_log_file(self) -> None:
        path = log_file()
        if path.is_file():
            QDesktopServices.openUrl(QUrl.fromLocalFile(str(path)))
        else:
            self.window.show_status(f"No log file yet ({path}).")

    def shutdown(self) -> None:
        """Remember the window and options, stop the worker thread, close the history database, detach the log
        pane."""
        self.settings.geometry = self.window.saveGeometry()
        self.settings.splitters = self.window.splitter_states()
        self.settings.options = self.window.quantize_panel.options()
        self.settings.runtime = self.window.quantize_panel.runtime_choice()
        self.settings.run = self.window.compare_panel.settings()
        self.settings.sync()
        self.runner.shutdown()
        self.history_controller.close()
        logging.getLogger(LOGGER).removeHandler(self._log_handler)
