"""The main window: panels, the Compare and Quality lab tabs, menus with shortcuts, a status bar, a log dock."""

from __future__ import annotations

from pathlib import Path

from PySide6.QtCore import QByteArray, QSize, Qt, Signal
from PySide6.QtGui import (
    QAction,
    QCloseEvent,
    QDragEnterEvent,
    QDropEvent,
    QKeySequence,
)
from PySide6.QtWidgets import (
    QFrame,
    QMainWindow,
    QMessageBox,
    QScrollArea,
    QSplitter,
    QTabWidget,
    QVBoxLayout,
    QWidget,
)

from ..icon import app_icon
from ..models.history_model import HistoryModel
from .checkpoint_panel import CheckpointPanel
from .compare_panel import ComparePanel
from .history_panel import HistoryPanel
from .log_dock import LogDock
from .quality_panel import QualityPanel
from .quantize_panel import QuantizePanel

APP_TITLE = "gpt2q desktop"
STATUS_TIMEOUT_MS = 10_000
MINIMUM_SIZE = QSize(1024, 640)
"""The window is never smaller; every panel fits at this size (the log pane aside)."""
DEFAULT_SIZE = QSize(1280, 800)
TOP_SHARE = 70
"""Percent of the height the panels and tabs get over the history until the user moves the splitter."""
EDGE = 6
"""Pixels between the window's edge and the panels."""
MESSAGE_CHARS = 400
MESSAGE_LINES = 8
"""A message longer than this (characters or lines) shows its start; the rest is in the box's details."""


def _dropped_folder(event: QDragEnterEvent | QDropEvent) -> str | None:
    urls = event.mimeData().urls() if event.mimeData().hasUrls() else []
    if len(urls) == 1 and urls[0].isLocalFile() and Path(urls[0].toLocalFile()).is_dir():
        return urls[0].toLocalFile()
    return None


def message_box(parent: QWidget, title: str, text: str) -> QMessageBox:
    """A warning box of bounded size: a long *text* shows its start, the whole of it folded away in the details."""
    box = QMessageBox(QMessageBox.Icon.Warning, title, text, QMessageBox.StandardButton.Ok, parent)
    if len(text) > MESSAGE_CHARS or text.count("\n") > MESSAGE_LINES:
        head = " ".join(text[:MESSAGE_CHARS].split("\n")[:MESSAGE_LINES])
        box.setText(head.rsplit(" ", 1)[0] + " … (the whole message is in the details)")
        box.setDetailedText(text)
    return box


class MainWindow(QMainWindow):
    """Lays out the panels and exposes the actions; a controller gives them meaning."""

    folder_dropped = Signal(str)
    closing = Signal()
    quality_lab_opened = Signal()
    """The user switched to the Quality lab tab."""

    def __init__(self, history: HistoryModel) -> None:
        super().__init__()
        self.setObjectName("main-window")
        self.setWindowIcon(app_icon())
        self.setAcceptDrops(True)
        self.checkpoint_panel = CheckpointPanel()
        self.quantize_panel = QuantizePanel()
        self.compare_panel = ComparePanel()
        self.quality_panel = QualityPanel()
        self.history_panel = HistoryPanel(history)
        self.log_dock = LogDock(self)
        self.addDockWidget(Qt.DockWidgetArea.BottomDockWidgetArea, self.log_dock)
        self.log_dock.hide()

        left = QWidget()
        column = QVBoxLayout(left)
        column.setContentsMargins(0, 0, 0, 0)
        column.addWidget(self.checkpoint_panel)
        column.addWidget(self.quantize_panel)
        column.addStretch(1)
        scroll = QScrollArea()
        scroll.setWidget(left)
        scroll.setWidgetResizable(True)
        scroll.setFrameShape(QFrame.Shape.NoFrame)
        scroll.setMinimumWidth(left.minimumSizeHint().width() + scroll.verticalScrollBar().sizeHint().width())
        self.tabs = QTabWidget()
        self.tabs.setDocumentMode(True)
        self.tabs.addTab(self.compare_panel, "Compare")
        self.tabs.addTab(self.quality_panel, "Quality lab")
        self.tabs.setTabToolTip(1, "Continuations side by side, a corpus evaluation, per-layer sensitivity")
        top = QSplitter(Qt.Orientation.Horizontal)
        top.addWidget(scroll)
        top.addWidget(self.tabs)
        top.setStretchFactor(1, 1)
        main = QSplitter(Qt.Orientation.Vertical)
        main.addWidget(top)
        main.addWidget(self.history_panel)
        main.setStretchFactor(0, 1)
        main.setStretchFactor(1, 1)
        main.setSizes([TOP_SHARE * DEFAULT_SIZE.height() // 100, (100 - TOP_SHARE) * DEFAULT_SIZE.height() // 100])
        self._splitters = (main, top, self.history_panel.split)
        """Their positions are remembered (see :meth:`splitter_states`)."""
        central = QWidget()
        edge = QVBoxLayout(central)
        edge.setContentsMargins(EDGE, EDGE, EDGE, 0)  # no title sits against the window's edge
        edge.addWidget(main)
        self.setCentralWidget(central)
        self.setMinimumSize(MINIMUM_SIZE)
        self._activity = (self.quantize_panel.job, self.quality_panel.job)
        self.tabs.currentChanged.connect(self._on_tab_changed)
        self._build_actions()
        self.resize(DEFAULT_SIZE)
        self.set_checkpoint_title(None)

    def _action(self, text: str, *keys: QKeySequence | QKeySequence.StandardKey | str) -> QAction:
        """An action with *keys* as shortcuts (a standard key that the platform leaves unbound is skipped)."""
        action = QAction(text, self)
        sequences: list[QKeySequence] = []
        for key in keys:
            sequence = QKeySequence(key)
            if not sequence.isEmpty() and sequence not in sequences:
                sequences.append(sequence)
        action.setShortcuts(sequences)
        return action

    def _build_actions(self) -> None:
        self.act_open = self._action("&Open folder…", QKeySequence.StandardKey.Open, "Ctrl+O")
        self.act_prompt_list = self._action("Run a prompt &list…", "Ctrl+L")
        self.act_save_history = self._action("&Save history as…", "Ctrl+E")
        self.act_export_model = self._action("Export INT8 &model…", "Ctrl+Shift+E")
        self.act_export_model.setToolTip("Write the ONNX Runtime INT8 model, its config and tokenizer into a folder")
        self.act_cache = self._action("&Cache manager…")
        self.act_data_folder = self._action("Open &data folder")
        self.act_quit = self._action("&Quit", QKeySequence.StandardKey.Quit, "Ctrl+Q")
        self.act_quantize = self._action("&Quantize", "Ctrl+K")
        self.act_run = self._action("&Run prompt", "Ctrl+R", "F5")
        self.act_cancel = self._action("&Cancel", "Esc")
        self.act_cancel.setEnabled(False)
        self.act_log = self.log_dock.toggleViewAction()
        self.act_log.setText("Show &log")
        self.act_log.setShortcut(QKeySequence("Ctrl+Shift+L"))
        self.act_log_file = self._action("Open log &file")
        self.act_about = self._action("&About gpt2q desktop")

        menus = {
            "&File": [
                self.act_open, self.act_prompt_list, self.act_save_history, self.act_export_model, None,
                self.act_cache, self.act_data_folder, None, self.act_quit,
            ],  # fmt: skip
            "&Model": [self.act_quantize, self.act_run, self.act_cancel],
            "&Help": [self.act_log, self.act_log_file, None, self.act_about],
        }
        for title, actions in menus.items():
            menu = self.menuBar().addMenu(title)
            for action in actions:
                if action is None:
                    menu.addSeparator()
                else:
                    menu.addAction(action)
        self.act_quit.triggered.connect(self.close)

    # -- what the controller calls --------------------------------------------------------------
    def enable_actions(self, *, start_jobs: bool, open_checkpoints: bool, cancel: bool) -> None:
        """Enable what the controller allows now: starting a job, opening another checkpoint, cancelling."""
        for widget in (
            self.act_quantize, self.quantize_panel.quantize_button, self.act_run, self.compare_panel.run_button,
            self.act_prompt_list, self.history_panel.prompt_list_button, self.act_export_model,
        ):  # fmt: skip
            widget.setEnabled(start_jobs)
        for widget in (self.act_open, self.checkpoint_panel.open_button, self.checkpoint_panel.sources):
            widget.setEnabled(open_checkpoints)
        for widget in (self.act_cancel, self.quantize_panel.cancel_button):
            widget.setEnabled(cancel)
        self.quality_panel.enable_actions(start_jobs=start_jobs, cancel=cancel)

    def show_job_started(self, text: str) -> None:
        """A job began: *text* and a busy bar in both activity lines (one worker runs every job, so either tab
        shows why its buttons wait)."""
        for job in self._activity:
            job.set_busy(text)

    def show_job_progress(self, done: int, total: int, message: str) -> None:
        for job in self._activity:
            job.set_progress(done, total, message)

    def show_job_ended(self, text: str, done: bool, lab_job: bool) -> None:
        """The job ended: the panel it belongs to (the Quality lab for a *lab_job*, else the quantize panel) shows
        *text* over a full bar if it is *done*, an empty one otherwise; the other panel is ready again."""
        quantize, lab = self._activity
        own, other = (lab, quantize) if lab_job else (quantize, lab)
        if done:
            own.set_done(text)
        else:
            own.set_idle(text)
        other.set_idle()

    def show_cancelling(self) -> None:
        for job in self._activity:
            job.set_cancelling()

    def splitter_states(self) -> list[QByteArray]:
        """Where the splitters' handles are (panels | tabs, top | history, table | chart)."""
        return [splitter.saveState() for splitter in self._splitters]

    def restore_splitters(self, states: list[QByteArray]) -> None:
        """Put the handles back where :meth:`splitter_states` found them (a missing or bad state is skipped)."""
        for splitter, state in zip(self._splitters, states):
            splitter.restoreState(state)

    def quality_lab_shown(self) -> bool:
        return self.tabs.currentWidget() is self.quality_panel

    def set_checkpoint_title(self, name: str | None) -> None:
        self.setWindowTitle(f"{name} — {APP_TITLE}" if name else APP_TITLE)

    def show_status(self, text: str) -> None:
        self.statusBar().showMessage(text, STATUS_TIMEOUT_MS)

    def notify_error(self, text: str) -> None:
        """A failure in plain words: in the status bar and in a message box."""
        self.statusBar().showMessage(text)
        self.show_message_box("gpt2q desktop", text)

    def confirm(self, title: str, text: str) -> bool:
        """Ask a yes/no question (No is the default); True for Yes (tests replace this method)."""
        answer = QMessageBox.question(self, title, text, defaultButton=QMessageBox.StandardButton.No)
        return answer == QMessageBox.StandardButton.Yes

    def show_message_box(self, title: str, text: str) -> None:
        """A non-modal warning box (tests replace this method)."""
        box = message_box(self, title, text)
        box.setWindowModality(Qt.WindowModality.NonModal)
        box.setAttribute(Qt.WidgetAttribute.WA_DeleteOnClose)
        box.show()

    # -- events ---------------------------------------------------------------------------------
    def _on_tab_changed(self, index: int) -> None:
        if self.tabs.widget(index) is self.quality_panel:
            self.quality_lab_opened.emit()

    def dragEnterEvent(self, event: QDragEnterEvent) -> None:
        if _dropped_folder(event):
            event.acceptProposedAction()

    def dropEvent(self, event: QDropEvent) -> None:
        folder = _dropped_folder(event)
        if folder:
            event.acceptProposedAction()
            self.folder_dropped.emit(folder)

    def closeEvent(self, event: QCloseEvent) -> None:
        self.closing.emit()
        super().closeEvent(event)
