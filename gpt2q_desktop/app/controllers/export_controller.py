"""File → Export INT8 model…: the ONNX Runtime INT8 model of the chosen recipe, written into a folder."""

from __future__ import annotations

from collections.abc import Callable
from pathlib import Path
from typing import TYPE_CHECKING, Any

from PySide6.QtCore import QObject
from PySide6.QtWidgets import QFileDialog

from ..jobs import ExportJob, Job

if TYPE_CHECKING:
    from gpt2q_desktop.core.options import RecipeOptions

    from .workbench import Workbench


def _has_entries(folder: Path) -> bool:
    """True if *folder* holds anything (a folder that cannot be listed is left for the export to refuse)."""
    try:
        return any(folder.iterdir())
    except OSError:
        return False


class ExportController(QObject):
    """Choose a folder, ask before writing into one that is not empty, export on the worker thread, say where."""

    def __init__(self, main: Workbench, recipe: Callable[[], RecipeOptions]) -> None:
        super().__init__(main)
        self.main, self.window, self._recipe = main, main.window, recipe
        self._folder = str(Path.home())
        """Where the folder dialog opens: the last folder chosen."""
        self.window.act_export_model.triggered.connect(self.choose_folder)
        main.runner.worker.produced.connect(self._on_produced)

    def choose_folder(self) -> None:
        if not self.main.can_work():
            return
        folder = QFileDialog.getExistingDirectory(self.window, "Export the INT8 model into a folder", self._folder)
        if folder:
            self.export_to(folder)

    def export_to(self, folder: str) -> bool:
        """Export into *folder*, after asking if it is not empty; False if nothing was started."""
        if not self.main.can_work():
            return False
        self._folder = folder
        overwrite = _has_entries(Path(folder))
        question = (
            f"{folder} is not empty. Write the INT8 model (model.onnx, config.json, tokenizer files, README.md) "
            "into it, replacing files of the same name?"
        )
        if overwrite and not self.window.confirm("Export INT8 model", question):
            self.window.show_status("Export cancelled: nothing was written.")
            return False
        self.main.runner.submit(ExportJob(folder, self._recipe(), overwrite))
        return True

    def _on_produced(self, job: Job, result: Any) -> None:
        if isinstance(job, ExportJob):
            self.window.show_status(f"INT8 model (ONNX) written to {result}.")
