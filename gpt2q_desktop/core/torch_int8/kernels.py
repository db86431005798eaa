"""The INT8 kernels torch runs quantized layers on (its "quantized engine"), chosen in this one place.

The platform chooses: fbgemm on x86 (Intel and AMD), qnnpack on ARM (Apple Silicon has no fbgemm; its torch starts
with no engine at all, and building a quantized layer then fails with ``NoQEngine``). The environment variable
``GPT2Q_INT8_KERNELS=fbgemm|qnnpack`` overrides the choice, to compare kernels on one machine. Everything that
builds or loads a quantized layer (the recipe, a cache load, a seed INT8 folder, the bench) calls
:func:`use_int8_kernels` first, and what it returns is what the reports, rows and cache keys name.

fbgemm, not its successor "x86", by measurement: on the 12-layer GPT-2 here (AVX-512), INT8 next-token calls are
about 9 % faster with fbgemm at 1 and 2 threads (``tools/tune_int8.py``).
"""

from __future__ import annotations

import os
import platform
from typing import Any

from gpt2q_desktop.core.errors import Gpt2qError
from gpt2q_desktop.core.runtimes import Kernels

KERNELS_ENV = "GPT2Q_INT8_KERNELS"
_X86 = {"x86_64", "amd64", "x86", "i386", "i686"}
_ARM = {"arm64", "aarch64"}


class KernelsError(Gpt2qError):
    """The INT8 kernels asked for are unknown or not in this build of torch."""


def requested_kernels() -> Kernels | None:
    """The kernels :data:`KERNELS_ENV` names (None when it is unset or empty); :class:`KernelsError` for a word
    that names none (torch-free)."""
    word = os.environ.get(KERNELS_ENV, "").strip().lower()
    if not word:
        return None
    try:
        return Kernels(word)
    except ValueError:
        known = ", ".join(k.value for k in Kernels)
        raise KernelsError(
            f"{KERNELS_ENV}={word} names no INT8 kernels gpt2q knows: set one of {known}, or unset it."
        ) from None


def platform_kernels(machine: str | None = None) -> Kernels | None:
    """The kernels made for this processor (*machine* as :func:`platform.machine` says it): fbgemm on x86,
    qnnpack on ARM; None on another processor."""
    machine = (machine if machine is not None else platform.machine()).lower()
    if machine in _X86:
        return Kernels.FBGEMM
    if machine in _ARM or machine.startswith("arm"):
        return Kernels.QNNPACK
    return None


def supported_engines() -> list[str]:
    """The quantized engines this build of torch has (Apple Silicon's: qnnpack and "none")."""
    import torch

    return [str(engine) for engine in torch.backends.quantized.supported_engines]


def chosen_kernels() -> Kernels:
    """The kernels to use here: :data:`KERNELS_ENV`'s if set (refused unless this torch has them), else the
    platform's, else the first of :class:`Kernels` this torch has."""
    available = supported_engines()
    requested = requested_kernels()
    if requested is not None:
        if requested not in available:
            raise KernelsError(
                f"{KERNELS_ENV}={requested}: this build of torch has no {requested} INT8 kernels "
                f"(it has {', '.join(k.value for k in Kernels if k in available) or 'none'}); set another or unset it."
            )
        return requested
    preferred = platform_kernels()
    for candidate in ([preferred] if preferred else []) + list(Kernels):
        if candidate in available:
            return candidate
    raise KernelsError(f"This build of torch has no INT8 kernels gpt2q knows (it has {', '.join(available)}).")


def use_int8_kernels(kernels: Kernels | str | None = None) -> Kernels:
    """Make *kernels* (None: :func:`chosen_kernels`) the ones torch builds and runs quantized layers with; they
    are returned. Cheap: called before every quantized build or load."""
    import torch

    chosen = chosen_kernels() if kernels is None else _available(kernels)
    if torch.backends.quantized.engine != chosen.value:
        torch.backends.quantized.engine = chosen.value
    return chosen


def _available(kernels: Kernels | str) -> Kernels:
    available = supported_engines()
    if kernels not in available or kernels not in set(Kernels):
        raise KernelsError(f"The INT8 kernels '{kernels}' are not available here (only {', '.join(available)}).")
    return Kernels(kernels)


def fitted(model: Any, kernels: Kernels) -> Any:
    """*model* with its dynamic INT8 linears called the way *kernels* take them; returned. fbgemm's reduced range
    (7-bit activations, its guard against overflow) means nothing to qnnpack: asked for it, qnnpack ignores it
    (the same numbers, checked) and prints a warning from C++ on the first call, so there it is not asked for."""
    import torch.ao.nn.quantized.dynamic as nnqd

    if kernels is Kernels.QNNPACK:
        for module in model.modules():
            if isinstance(module, nnqd.Linear):
                module.version = 3  # torch calls linear_dynamic without reduce_range below version 4
    return model
