"""The checkpoint panel: where a student comes from, and what was found in it."""

from __future__ import annotations

from PySide6.QtCore import Signal
from PySide6.QtWidgets import (
    QComboBox,
    QFormLayout,
    QGroupBox,
    QHBoxLayout,
    QLabel,
    QPushButton,
    QVBoxLayout,
    QWidget,
)

from gpt2q_desktop.core.checkpoints.checkpoint import CheckpointInfo
from gpt2q_desktop.core.checkpoints.sources import FoundModel
from gpt2q_desktop.core.sizes import mb

_FIELDS = ("Name", "Layers", "Hidden size", "Vocabulary", "Parameters", "On disk", "In memory", "Tokenizer")
ERROR_STYLE = "color: #b00020;"


class CheckpointPanel(QGroupBox):
    """Open folder, a list of known checkpoints, the found facts and any refusal in plain words."""

    open_folder_clicked = Signal()
    source_chosen = Signal(str)
    choose_tokenizer_clicked = Signal()
    bundled_tokenizer_clicked = Signal()

    def __init__(self, parent: QWidget | None = None) -> None:
        super().__init__("Checkpoint", parent)
        self.open_button = QPushButton("Open folder…")
        self.open_button.setToolTip("Open a GPT-2 checkpoint folder (Ctrl+O), or drop one onto the window")
        self.sources = QComboBox()
        self.sources.setSizeAdjustPolicy(QComboBox.SizeAdjustPolicy.AdjustToMinimumContentsLengthWithIcon)
        self.sources.setMinimumContentsLength(16)
        self.sources.setToolTip("The bundled demo, recent folders and GPT-2 models in the Hugging Face cache")
        top = QHBoxLayout()
        top.addWidget(self.open_button)
        top.addWidget(self.sources, 1)

        form = QFormLayout()
        self.fields: dict[str, QLabel] = {}
        for name in _FIELDS:
            label = QLabel("–")
            label.setWordWrap(True)
            self.fields[name] = label
            form.addRow(f"{name}:", label)

        self.message = QLabel()
        self.message.setWordWrap(True)
        self.message.hide()

        self.tokenizer_button = QPushButton("Tokenizer…")
        self.tokenizer_button.setToolTip("Choose a folder holding tokenizer.json, or vocab.json + merges.txt")
        self.bundled_button = QPushButton("Use bundled GPT-2 tokenizer")
        self.tokenizer_row = QWidget()
        row = QHBoxLayout(self.tokenizer_row)
        row.setContentsMargins(0, 0, 0, 0)
        row.addWidget(self.tokenizer_button)
        row.addWidget(self.bundled_button)
        self.tokenizer_row.hide()

        layout = QVBoxLayout(self)
        layout.addLayout(top)
        layout.addLayout(form)
        layout.addWidget(self.message)
        layout.addWidget(self.tokenizer_row)

        self.open_button.clicked.connect(self.open_folder_clicked)
        self.tokenizer_button.clicked.connect(self.choose_tokenizer_clicked)
        self.bundled_button.clicked.connect(self.bundled_tokenizer_clicked)
        self.sources.activated.connect(self._on_source)

    def set_sources(self, demo: str | None, recent: list[str], found: list[FoundModel]) -> None:
        """Fill the list: the demo (if installed), recent folders, then Hugging Face cache models."""
        self.sources.clear()
        self.sources.addItem("Choose a checkpoint…")
        if demo:
            self.sources.addItem("Demo student (bundled)", demo)
        if recent:
            self.sources.insertSeparator(self.sources.count())
            for path in recent:
                self.sources.addItem(f"Recent: {path}", path)
        if found:
            self.sources.insertSeparator(self.sources.count())
            for model in found:
                self.sources.addItem(f"Hugging Face cache: {model.label}", str(model.path))

    def _on_source(self, index: int) -> None:
        path = self.sources.itemData(index)
        self.sources.setCurrentIndex(0)
        if path:
            self.source_chosen.emit(path)

    def show_info(self, info: CheckpointInfo) -> None:
        values = {
            "Name": info.name,
            "Layers": str(info.n_layer),
            "Hidden size": str(info.n_embd),
            "Vocabulary": f"{info.vocab_size:,}",
            "Parameters": info.params_text,
            "On disk": info.disk_text,
            "In memory": f"{mb(info.fp32_bytes)} as FP32",
            "Tokenizer": info.tokenizer_source,
        }
        for name, value in values.items():
            self.fields[name].setText(value)
        self.fields["Name"].setToolTip(str(info.path))
        self.fields["Tokenizer"].setToolTip(str(info.tokenizer_dir or ""))

    def clear_info(self) -> None:
        """Show no checkpoint's facts (none is open)."""
        for label in self.fields.values():
            label.setText("–")
            label.setToolTip("")

    def show_message(self, text: str, error: bool = False) -> None:
        """An inline note or refusal under the facts (an empty text hides it)."""
        self.message.setText(text)
        self.message.setStyleSheet(ERROR_STYLE if error else "")
        self.message.setVisible(bool(text))

    def offer_tokenizer(self, offer: bool) -> None:
        self.tokenizer_row.setVisible(offer)
