"""The engine: one worker object on one thread that does every piece of torch work, in order.

The window never imports torch. It asks :class:`Engine` to open, quantize or compare; the
:class:`EngineWorker` runs the core on its own ``QThread`` and answers with signals that carry core
results (``CheckpointInfo``, ``QuantizeReport``, ``ComparisonRow``). Jobs are queued, so torch work is
serialised on that one thread. Cancel sets a thread-safe flag that the core polls; a new request clears it.
"""

from __future__ import annotations

import logging
import threading
from collections.abc import Callable
from dataclasses import dataclass, field
from typing import TYPE_CHECKING, Any

from PySide6.QtCore import QObject, QThread, Signal, Slot

from ..core.checkpoint import CheckpointInfo
from ..core.errors import Cancelled, CheckpointError, Gpt2qError, TokenizerError

if TYPE_CHECKING:
    from ..core.checkpoint import LoadedCheckpoint

log = logging.getLogger("gpt2q")

JOB_OPEN, JOB_QUANTIZE, JOB_COMPARE = "open", "quantize", "compare"
_DOING = {JOB_OPEN: "loading the checkpoint", JOB_QUANTIZE: "quantizing", JOB_COMPARE: "running the prompt"}


@dataclass(frozen=True)
class Opened:
    """A checkpoint the worker has loaded: what it is, and what the user should know about it."""

    info: CheckpointInfo
    label: str
    notes: list[str] = field(default_factory=list)

    @property
    def has_tokenizer(self) -> bool:
        return self.info.tokenizer_dir is not None


class EngineWorker(QObject):
    """Runs core jobs on the engine thread; never touches a widget."""

    started = Signal(str)
    """A job (``open``, ``quantize``, ``compare``) began."""
    finished = Signal(str)
    """A job ended, whatever the outcome."""
    progress = Signal(int, int, str)
    opened = Signal(object)
    """:class:`Opened`."""
    quantized = Signal(object)
    """``core.engine.QuantizeReport``."""
    compared = Signal(object)
    """``core.compare.ComparisonRow``, one per prompt."""
    failed = Signal(str)
    cancelled = Signal(str)

    def __init__(self, cancel_flag: threading.Event) -> None:
        super().__init__()
        self._cancel = cancel_flag
        self._loaded: LoadedCheckpoint | None = None
        self._int8: Any = None
        self._int8_options: dict[str, Any] | None = None

    # -- jobs ---------------------------------------------------------------------------------
    @Slot(str, object)
    def open(self, path: str, tokenizer: str | None) -> None:
        def job() -> None:
            from ..core.checkpoint import load_checkpoint

            self._loaded, self._int8, self._int8_options = None, None, None
            loaded = load_checkpoint(path, tokenizer, require_tokenizer=False)
            self._loaded = loaded
            self.opened.emit(Opened(loaded.info, loaded.label, list(loaded.notes)))

        self._run(JOB_OPEN, job)

    @Slot(object)
    def quantize(self, options: dict[str, Any]) -> None:
        self._run(JOB_QUANTIZE, lambda: self._quantize(options))

    @Slot(object, object, object)
    def compare(self, prompts: list[str], settings: dict[str, int], options: dict[str, Any]) -> None:
        """Compare FP32 with INT8 on each prompt, quantizing first when the INT8 model is missing or stale."""

        def job() -> None:
            from ..core.compare import compare_prompt
            from ..core.runner import RunSettings, default_threads, encode_prompt

            loaded = self._require_loaded()
            if loaded.tokenizer is None:
                raise TokenizerError("This checkpoint has no tokenizer: choose a tokenizer folder first.")
            run = RunSettings(
                repeats=settings["repeats"],
                warmup=settings["warmup"],
                threads=settings["threads"] or default_threads(),
                top_k=settings["top_k"],
            )
            n_positions = loaded.info.n_positions
            for text in prompts:  # refuse a bad prompt before any long work
                encode_prompt(loaded.tokenizer, text, n_positions)
            if self._int8 is None or self._int8_options != options:
                self._quantize(options)
            total = len(prompts)
            for i, text in enumerate(prompts):
                if self._cancel.is_set():
                    raise Cancelled(f"Stopped after {i} of {total} prompts.")
                self.progress.emit(i, total, f"Running prompt {i + 1} of {total}")
                self.compared.emit(compare_prompt(loaded.model, self._int8, loaded.tokenizer, text, run, n_positions))
            self.progress.emit(total, total, "Done")

        self._run(JOB_COMPARE, job)

    # -- helpers ------------------------------------------------------------------------------
    def _require_loaded(self) -> LoadedCheckpoint:
        if self._loaded is None:
            raise CheckpointError("No checkpoint is loaded: open a checkpoint folder first.")
        return self._loaded

    def _quantize(self, options: dict[str, Any]) -> None:
        from ..core.cache import QuantCache
        from ..core.engine import quantize_checkpoint
        from ..core.recipe import RecipeOptions

        loaded = self._require_loaded()
        model, report = quantize_checkpoint(
            loaded.info,
            RecipeOptions.from_dict(options),
            lambda: loaded.model,
            QuantCache(),
            progress=self.progress.emit,
            cancelled=self._cancel.is_set,
        )
        self._int8, self._int8_options = model, dict(options)
        self.quantized.emit(report)

    def _run(self, name: str, job: Callable[[], None]) -> None:
        self.started.emit(name)
        try:
            job()
        except Cancelled as exc:
            log.info("%s cancelled: %s", name, exc)
            self.cancelled.emit(str(exc))
        except Gpt2qError as exc:
            log.info("%s refused: %s", name, exc, exc_info=True)
            self.failed.emit(str(exc))
        except Exception as exc:  # the app must keep working whatever the core or torch raises
            log.exception("unexpected error while %s", _DOING[name])
            self.failed.emit(
                f"Unexpected error while {_DOING[name]} ({type(exc).__name__}: {exc}). Details are in the log."
            )
        finally:
            self.finished.emit(name)


class Engine(QObject):
    """Owns the engine thread and its worker: the one place that starts and stops them."""

    _open_requested = Signal(str, object)
    _quantize_requested = Signal(object)
    _compare_requested = Signal(object, object, object)

    def __init__(self, parent: QObject | None = None) -> None:
        super().__init__(parent)
        self._cancel = threading.Event()
        self.worker = EngineWorker(self._cancel)
        self._thread = QThread()
        self._thread.setObjectName("gpt2q-engine")
        self.worker.moveToThread(self._thread)
        self._open_requested.connect(self.worker.open)
        self._quantize_requested.connect(self.worker.quantize)
        self._compare_requested.connect(self.worker.compare)
        self._thread.finished.connect(self.worker.deleteLater)
        self._thread.start()

    def open(self, path: str, tokenizer: str | None = None) -> None:
        self._cancel.clear()
        self._open_requested.emit(path, tokenizer)

    def quantize(self, options: dict[str, Any]) -> None:
        self._cancel.clear()
        self._quantize_requested.emit(dict(options))

    def compare(self, prompts: list[str], settings: dict[str, int], options: dict[str, Any]) -> None:
        self._cancel.clear()
        self._compare_requested.emit(list(prompts), dict(settings), dict(options))

    def cancel(self) -> None:
        """Stop every job requested so far at its next step (thread-safe); the next request clears it."""
        self._cancel.set()

    def shutdown(self) -> None:
        """Stop the current job, then the thread; blocks until the thread has ended."""
        self._cancel.set()
        self._thread.quit()
        self._thread.wait()
