"""The cache manager dialog's behaviour: list, delete, open the data folder."""

from __future__ import annotations

import logging

from PySide6.QtCore import QObject, QUrl
from PySide6.QtGui import QDesktopServices
from PySide6.QtWidgets import QWidget

from gpt2q_desktop.core.errors import CacheError
from gpt2q_desktop.core.paths import data_dir
from gpt2q_desktop.core.sizes import mb
from gpt2q_desktop.core.store.model_cache import QuantCache
from gpt2q_desktop.core.text import counted

from ..models.cache_model import CacheModel
from ..views.cache_dialog import CacheDialog

log = logging.getLogger("gpt2q")


class CacheController(QObject):
    """Owns the dialog and its model; reads the cache through ``core.store.model_cache.QuantCache``."""

    def __init__(self, parent: QWidget) -> None:
        super().__init__(parent)
        self.model = CacheModel(self)
        self.dialog = CacheDialog(self.model, parent)
        self.dialog.delete_clicked.connect(self.delete_selected)
        self.dialog.refresh_clicked.connect(self.refresh)
        self.dialog.open_folder_clicked.connect(self.open_data_folder)

    def show(self) -> None:
        self.refresh()
        self.dialog.show()
        self.dialog.raise_()

    def refresh(self) -> None:
        cache = QuantCache()
        self.model.set_entries(cache.entries())
        self.dialog.show_summary(
            f"{counted(self.model.rowCount(), 'entry', 'entries')}, {mb(self.model.total_bytes())} on disk in {cache.root}"
        )

    def delete_selected(self) -> None:
        cache = QuantCache()
        for row in self.dialog.selected_rows():
            entry = self.model.entry(row)
            try:
                cache.delete(entry.key)
            except (CacheError, OSError) as exc:
                log.warning("could not delete cache entry %s: %s", entry.key, exc)
                self.refresh()  # the rows deleted before it are gone; this one stays whole
                self.dialog.show_summary(f"Could not delete {entry.source_name}: {exc}")
                return
            log.info("deleted cache entry %s (%s)", entry.key, entry.source_name)
        self.refresh()

    @staticmethod
    def open_data_folder() -> None:
        folder = data_dir()
        folder.mkdir(parents=True, exist_ok=True)
        QDesktopServices.openUrl(QUrl.fromLocalFile(str(folder)))
