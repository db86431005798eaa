"""The quantize panel: the runtime, recipe options, Quantize / Cancel, progress with the current step, the result."""

from __future__ import annotations

from PySide6.QtCore import QRegularExpression, Signal
from PySide6.QtGui import QRegularExpressionValidator
from PySide6.QtWidgets import (
    QButtonGroup,
    QCheckBox,
    QComboBox,
    QGroupBox,
    QHBoxLayout,
    QLabel,
    QLineEdit,
    QPushButton,
    QRadioButton,
    QVBoxLayout,
    QWidget,
)

from gpt2q_desktop.core.options import RecipeOptions
from gpt2q_desktop.core.runtimes import RUNTIME_CHOICES, Runtime, runtime_label, runtimes_of

from .job_progress import JobProgress


class QuantizePanel(QGroupBox):
    """Options and the activity of the worker (quantizing, loading, running prompts)."""

    quantize_clicked = Signal()
    cancel_clicked = Signal()
    runtime_changed = Signal()
    """The user chose another runtime (or both)."""

    def __init__(self, parent: QWidget | None = None) -> None:
        super().__init__("Quantize to INT8", parent)
        runtime = self._runtime_row()
        self.per_tensor = QRadioButton("Per tensor")
        self.per_channel = QRadioButton("Per channel")
        self.per_tensor.setChecked(True)
        self.per_tensor.setToolTip("One scale per weight matrix")
        self.per_channel.setToolTip("One scale per output channel: closer to FP32, slightly larger")
        group = QButtonGroup(self)
        group.addButton(self.per_tensor)
        group.addButton(self.per_channel)
        granularity = QHBoxLayout()
        granularity.addWidget(self.per_tensor)
        granularity.addWidget(self.per_channel)
        self.keep_lm_head = QCheckBox("Keep lm_head FP32")
        self.keep_lm_head.setToolTip("Keep the output projection (and the tied token embedding) in FP32")
        self.embeddings = QCheckBox("Embeddings INT8")
        self.embeddings.setToolTip("Store the token and position embeddings as INT8 rows")
        self.embeddings.setChecked(True)
        self.fp32_blocks = QLineEdit()
        self.fp32_blocks.setPlaceholderText("none")
        self.fp32_blocks.setToolTip(
            "Blocks kept in FP32, by number (for example 0, 3); the Quality lab's sensitivity ranking can set them"
        )
        self.fp32_blocks.setValidator(QRegularExpressionValidator(QRegularExpression(r"[0-9, ]*"), self.fp32_blocks))
        blocks = QHBoxLayout()
        blocks.addWidget(QLabel("FP32 blocks"))
        blocks.addWidget(self.fp32_blocks, 1)

        self.quantize_button = QPushButton("Quantize")
        self.quantize_button.setToolTip("Quantize with these options (Ctrl+K); a cached result is reused")
        self.cancel_button = QPushButton("Cancel")
        self.cancel_button.setToolTip("Stop the current job (Esc); nothing half-done is kept")
        self.cancel_button.setEnabled(False)
        buttons = QHBoxLayout()
        buttons.addWidget(self.quantize_button)
        buttons.addWidget(self.cancel_button)

        self.job = JobProgress(self)
        self.job.step.setWordWrap(True)
        self.result = QLabel("Not quantized yet.")
        self.result.setWordWrap(True)

        layout = QVBoxLayout(self)
        layout.addLayout(runtime)
        layout.addLayout(granularity)
        layout.addWidget(self.keep_lm_head)
        layout.addWidget(self.embeddings)
        layout.addLayout(blocks)
        layout.addLayout(buttons)
        layout.addWidget(self.job.bar)
        layout.addWidget(self.job.step)
        layout.addWidget(self.result)

        self.quantize_button.clicked.connect(self.quantize_clicked)
        self.cancel_button.clicked.connect(self.cancel_clicked)
        self.runtime.currentIndexChanged.connect(self.runtime_changed)

    def _runtime_row(self) -> QHBoxLayout:
        self.runtime = QComboBox()
        for choice in RUNTIME_CHOICES:
            self.runtime.addItem(runtime_label(choice), choice)
        self.runtime.setToolTip(
            "Where the FP32 and INT8 models run: PyTorch (on the INT8 kernels made for this processor, fbgemm on x86 "
            "and qnnpack on ARM, unless GPT2Q_INT8_KERNELS names others; the result says which ran), ONNX Runtime "
            "(the model exported to ONNX, quantized by ONNX Runtime), or both side by side"
        )
        row = QHBoxLayout()
        row.addWidget(QLabel("Runtime"))
        row.addWidget(self.runtime, 1)
        return row

    def options(self) -> RecipeOptions:
        """The chosen recipe."""
        return RecipeOptions(
            per_channel=self.per_channel.isChecked(),
            keep_lm_head=self.keep_lm_head.isChecked(),
            quantize_embeddings=self.embeddings.isChecked(),
            exclude_layers=tuple(sorted({int(item) for item in self.fp32_blocks.text().replace(",", " ").split()})),
        )

    def set_options(self, options: RecipeOptions) -> None:
        (self.per_channel if options.per_channel else self.per_tensor).setChecked(True)
        self.keep_lm_head.setChecked(options.keep_lm_head)
        self.embeddings.setChecked(options.quantize_embeddings)
        self.fp32_blocks.setText(", ".join(map(str, sorted(options.exclude_layers))))

    def reset_blocks(self, note: str) -> None:
        """Keep no block in FP32 any more (they were another checkpoint's), and say so where results show."""
        self.fp32_blocks.clear()
        self.show_result(note)

    def runtime_choice(self) -> str:
        """The chosen key of ``RUNTIME_CHOICES``: ``torch``, ``onnxruntime`` or ``both``."""
        return str(self.runtime.currentData())

    def runtimes(self) -> tuple[str, ...]:
        """The runtimes chosen, in the order their results are shown."""
        return runtimes_of(self.runtime_choice())

    def set_runtime_choice(self, choice: str) -> None:
        index = self.runtime.findData(choice)
        self.runtime.setCurrentIndex(index if index >= 0 else self.runtime.findData(Runtime.TORCH))

    def show_result(self, text: str) -> None:
        """What the last quantization gave (or that there is none yet)."""
        self.result.setText(text)
