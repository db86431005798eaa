"""The four models a comparison can time, in reading order, with the colour and name each is shown with:
FP32 blue, INT8 orange; on ONNX Runtime a darker shade of each."""

from __future__ import annotations

from PySide6.QtGui import QColor

from gpt2q_desktop.core.runtimes import Runtime, runtime_label

FP32, INT8 = "FP32", "INT8"
FP32_COLOR = QColor("#4f7cac")
INT8_COLOR = QColor("#d9822b")
SIDES: tuple[tuple[str, str], ...] = ((Runtime.TORCH, FP32), (Runtime.TORCH, INT8), (Runtime.ONNXRUNTIME, FP32), (Runtime.ONNXRUNTIME, INT8))
"""``(runtime, precision)`` of every model, in the order they are laid out and charted."""
_COLORS = {
    (Runtime.TORCH, FP32): FP32_COLOR,
    (Runtime.TORCH, INT8): INT8_COLOR,
    (Runtime.ONNXRUNTIME, FP32): QColor("#2c5282"),
    (Runtime.ONNXRUNTIME, INT8): QColor("#a4540f"),
}


def side_color(runtime: str, precision: str) -> QColor:
    return _COLORS[(runtime, precision)]


def side_name(runtime: str, precision: str) -> str:
    """The model in words: "PyTorch FP32", "ONNX Runtime INT8", ..."""
    return f"{runtime_label(runtime)} {precision}"
