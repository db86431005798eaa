"""One size vocabulary for the window, the CLI and the bench: the weights on disk with their float type, the model
in memory as FP32, the INT8 model; a ratio always names what it compares (torch-free)."""

from __future__ import annotations


def mb(n_bytes: float) -> str:
    return f"{n_bytes / 1e6:.1f} MB"


def on_disk(file_bytes: int, stored_dtype: str, weight_format: str) -> str:
    """``32.2 MB FP16 (safetensors)``."""
    return f"{mb(file_bytes)} {stored_dtype} ({weight_format})"


def int8_change(fp32_bytes: int, int8_bytes: int) -> str:
    """``FP32 64.4 MB → INT8 16.4 MB (26% of FP32)``: the FP32 model in memory against the INT8 one."""
    ratio = f" ({int8_bytes / fp32_bytes:.0%} of FP32)" if fp32_bytes else ""
    return f"FP32 {mb(fp32_bytes)} → INT8 {mb(int8_bytes)}{ratio}"
