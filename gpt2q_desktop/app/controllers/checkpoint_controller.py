"""The checkpoint panel's behaviour: open a folder (checked at once, loaded on the worker thread), choose a
tokenizer, list the known sources; and what the panel shows when a checkpoint loads or is refused."""

from __future__ import annotations

import logging
from pathlib import Path
from typing import TYPE_CHECKING, Any

from PySide6.QtCore import QObject, Signal
from PySide6.QtWidgets import QFileDialog

from gpt2q_desktop.core.checkpoints.checkpoint import CheckpointInfo, inspect_checkpoint
from gpt2q_desktop.core.errors import Gpt2qError
from gpt2q_desktop.core.logs import LOGGER
from gpt2q_desktop.core.paths import bundled_tokenizer_dir, demo_student_dir

from ..jobs import Job, OpenJob
from ..source_scan import SourceScan

if TYPE_CHECKING:
    from gpt2q_desktop.core.checkpoints.checkpoint import Opened
    from gpt2q_desktop.core.checkpoints.sources import FoundModel

    from ..settings import AppSettings
    from ..views.main_window import MainWindow
    from ..worker import JobRunner

log = logging.getLogger(LOGGER)
BUSY = "Busy: wait for the current job to finish, or cancel it (Esc)."


def demo_available() -> bool:
    return (demo_student_dir() / "config.json").is_file()


class CheckpointController(QObject):
    """Holds which checkpoint is open; the panel never shows one the worker does not hold."""

    changed = Signal()
    """A checkpoint was opened, refused or dropped."""

    def __init__(self, window: MainWindow, settings: AppSettings, runner: JobRunner) -> None:
        super().__init__(window)
        self.window, self.settings, self.runner = window, settings, runner
        self.panel = window.checkpoint_panel
        self.info: CheckpointInfo | None = None
        self._opening: OpenJob | None = None
        """The last open asked for: answers about earlier ones are stale."""
        self._found: list[FoundModel] = []
        self._scan = SourceScan()  # no Qt parent: its thread keeps it alive, even past the window
        self._scan.found.connect(self._on_found)
        p = self.panel
        p.open_folder_clicked.connect(self.choose_folder)
        p.source_chosen.connect(self.open_checkpoint)
        p.choose_tokenizer_clicked.connect(self.choose_tokenizer)
        p.bundled_tokenizer_clicked.connect(self.use_bundled_tokenizer)
        window.folder_dropped.connect(self.open_checkpoint)
        window.act_open.triggered.connect(self.choose_folder)
        runner.worker.produced.connect(self._on_produced)
        runner.worker.failed.connect(self._on_failed)

    def refresh_sources(self) -> None:
        """List the demo and the recent folders now; the Hugging Face cache is scanned in the background."""
        self._show_sources()
        self._scan.start()

    def _show_sources(self) -> None:
        demo = str(demo_student_dir()) if demo_available() else None
        self.panel.set_sources(demo, self.settings.recent, self._found)

    def _on_found(self, found: list[FoundModel]) -> None:
        self._found = found
        self._show_sources()

    # -- opening --------------------------------------------------------------------------------
    def open_checkpoint(self, path: str, tokenizer: str | None = None) -> bool:
        """Check a folder at once (no torch), then load it on the worker thread. False if refused; the
        checkpoint open before stays open, in the panel as on the worker."""
        if self.runner.working:
            self.window.show_status(BUSY)
            return False
        try:
            info = inspect_checkpoint(path, tokenizer, require_tokenizer=False)
        except Gpt2qError as exc:
            log.warning("Not opened: %s: %s", path, exc)
            self.panel.show_message(f"Not opened: {exc}", error=True)
            self.window.notify_error(f"Not opened: {exc}")
            return False
        self.info, self._opening = info, OpenJob(str(info.path), tokenizer)
        self.panel.show_info(info)
        self.panel.show_message("")
        self.panel.offer_tokenizer(False)
        self.window.set_checkpoint_title(info.name)
        self.window.quantize_panel.show_result("Not quantized yet.")
        self.changed.emit()
        self.runner.submit(self._opening)
        return True

    def choose_folder(self) -> None:
        start = str(self.info.path.parent) if self.info else str(Path.home())
        folder = QFileDialog.getExistingDirectory(self.window, "Open a GPT-2 checkpoint folder", start)
        if folder:
            self.open_checkpoint(folder)

    def choose_tokenizer(self) -> None:
        if self.info is None:
            return
        folder = QFileDialog.getExistingDirectory(self.window, "Choose a tokenizer folder", str(self.info.path))
        if folder:
            self.open_checkpoint(str(self.info.path), folder)

    def use_bundled_tokenizer(self) -> None:
        if self.info is not None:
            self.open_checkpoint(str(self.info.path), str(bundled_tokenizer_dir()))

    # -- worker answers -------------------------------------------------------------------------
    def _on_produced(self, job: Job, result: Any) -> None:
        if job is self._opening:
            self._on_opened(job, result)

    def _on_opened(self, job: OpenJob, opened: Opened) -> None:
        notes = list(opened.notes)
        if not opened.has_tokenizer:
            notes.append("No tokenizer in this folder: choose one to run prompts (quantizing works without it).")
        self.panel.show_message("\n".join(notes))
        self.panel.offer_tokenizer(not opened.has_tokenizer)
        path = str(opened.info.path)
        self._forget_other_checkpoints_blocks(path, opened.info.name)
        self.settings.last_checkpoint = path
        self.settings.last_tokenizer = job.tokenizer
        self.settings.add_recent(path)
        self._show_sources()
        self.window.show_status(f"Loaded {opened.label}.")

    def _forget_other_checkpoints_blocks(self, path: str, name: str) -> None:
        """Blocks kept FP32 (picked from one checkpoint's sensitivity ranking) are reset when another opens."""
        panel = self.window.quantize_panel
        blocks = panel.options().exclude_layers
        previous = self.settings.last_checkpoint
        if blocks and previous and previous != path:
            listed = ", ".join(map(str, blocks))
            panel.reset_blocks(f"FP32 blocks {listed} belonged to {Path(previous).name}: reset to none for {name}.")

    def _on_failed(self, job: Job, text: str) -> None:
        """The worker could not load the folder, and holds no checkpoint now: neither does the panel."""
        if job is self._opening:
            self.info = None
            self.window.set_checkpoint_title(None)
            self.panel.clear_info()
            self.panel.show_message(f"Not loaded: {text}", error=True)
            self.changed.emit()
