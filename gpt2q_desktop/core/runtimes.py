"""Where a model runs and which INT8 kernels it uses: the two enums every layer names them by (torch-free).

Both are ``str`` enums whose values are the words of the CLI (``--runtime torch``) and of JSON rows, so a value
read from a file or a command line is ``Runtime(value)`` and a member writes itself as that word."""

from __future__ import annotations

from enum import Enum

from gpt2q_desktop.core.errors import PromptError


class _Word(str, Enum):
    """A str enum that prints, formats and hashes as its value (a dict keyed by the word finds the member)."""

    __hash__ = str.__hash__

    def __str__(self) -> str:
        return self.value

    def __format__(self, spec: str) -> str:
        return format(self.value, spec)


class Runtime(_Word):
    """The library that runs the FP32 and INT8 models."""

    TORCH = "torch"
    ONNXRUNTIME = "onnxruntime"

    @property
    def label(self) -> str:
        """The runtime's name for people: ``PyTorch``, ``ONNX Runtime``."""
        return _LABELS[self]


_LABELS = {Runtime.TORCH: "PyTorch", Runtime.ONNXRUNTIME: "ONNX Runtime"}

BOTH = "both"
RUNTIME_CHOICES: dict[str, tuple[Runtime, ...]] = {**{r.value: (r,) for r in Runtime}, BOTH: tuple(Runtime)}
"""What ``--runtime`` (and the window's Runtime choice) accepts, and the runtimes each runs; torch is the default."""


def runtimes_of(choice: str) -> tuple[Runtime, ...]:
    """The runtimes of a Runtime choice (``torch``, ``onnxruntime`` or ``both``)."""
    try:
        return RUNTIME_CHOICES[choice]
    except KeyError:
        raise PromptError(f"Unknown runtime {choice!r}: choose one of {', '.join(RUNTIME_CHOICES)}.") from None


class Kernels(_Word):
    """torch's INT8 kernel libraries ("quantized engines"); in this order the first one a build of torch has
    serves a processor that is neither x86 nor ARM (``torch_int8.kernels`` chooses). ONNX Runtime brings its own
    INT8 kernels (MLAS) that nobody chooses: its rows and reports name no kernels (None, ``null`` in JSON)."""

    FBGEMM = "fbgemm"
    X86 = "x86"
    QNNPACK = "qnnpack"


def runtime_label(value: str, kernels: str | None = None) -> str:
    """A runtime's (or the Runtime choice's) name for people, with the INT8 *kernels* it ran on when they are
    known: "PyTorch (qnnpack)"; a word that names neither is shown as it is."""
    if value == BOTH:
        return "Both"
    try:
        label = Runtime(value).label
    except ValueError:
        label = value
    return f"{label} ({kernels})" if kernels else label
