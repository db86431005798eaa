"""The four models a comparison can time, in reading order, with the colour and name each is shown with:
FP32 blue, INT8 orange; on ONNX Runtime a darker shade of each."""

from __future__ import annotations

from PySide6.QtGui import QColor

from ...core.options import ONNXRUNTIME, RUNTIME_NAMES, TORCH

FP32, INT8 = "FP32", "INT8"
FP32_COLOR = QColor("#4f7cac")
INT8_COLOR = QColor("#d9822b")
SIDES: tuple[tuple[str, str], ...] = ((TORCH, FP32), (TORCH, INT8), (ONNXRUNTIME, FP32), (ONNXRUNTIME, INT8))
"""``(runtime, precision)`` of every model, in the order they are laid out and charted."""
_COLORS = {
    (TORCH, FP32): FP32_COLOR,
    (TORCH, INT8): INT8_COLOR,
    (ONNXRUNTIME, FP32): QColor("#2c5282"),
    (ONNXRUNTIME, INT8): QColor("#a4540f"),
}


def side_color(runtime: str, precision: str) -> QColor:
    return _COLORS[(runtime, precision)]


def side_name(runtime: str, precision: str) -> str:
    """The model in words: "PyTorch FP32", "ONNX Runtime INT8", ..."""
    return f"{RUNTIME_NAMES[runtime]} {precision}"
