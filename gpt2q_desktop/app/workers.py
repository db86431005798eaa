"""The engine: one worker object on one thread that does every piece of torch work, in order.

The window never imports torch. It asks :class:`Engine` to open, quantize, compare or run a quality-lab
job; the :class:`EngineWorker` runs the core on its own ``QThread`` and answers with signals that carry core
results (``CheckpointInfo``, ``QuantizeReport``, ``ComparisonRow``, ``ContinuationPair``, ``CorpusEval``,
``LayerScore``). Jobs are queued, so torch work is serialised on that one thread. Cancel sets a thread-safe
flag that the core polls; a new request clears it.
"""

from __future__ import annotations

import itertools
import logging
import threading
from collections.abc import Callable, Iterator
from dataclasses import dataclass, field
from pathlib import Path
from typing import TYPE_CHECKING, Any

from PySide6.QtCore import QObject, QThread, Signal, Slot

from ..core.checkpoint import CheckpointInfo
from ..core.errors import Cancelled, CheckpointError, Gpt2qError, TokenizerError

if TYPE_CHECKING:
    from ..core.checkpoint import LoadedCheckpoint

log = logging.getLogger("gpt2q")

JOB_OPEN, JOB_QUANTIZE, JOB_COMPARE = "open", "quantize", "compare"
JOB_CONTINUE, JOB_EVALUATE, JOB_SENSITIVITY = "continue", "evaluate", "sensitivity"
_DOING = {
    JOB_OPEN: "loading the checkpoint",
    JOB_QUANTIZE: "quantizing",
    JOB_COMPARE: "running the prompt",
    JOB_CONTINUE: "generating the continuations",
    JOB_EVALUATE: "evaluating the text",
    JOB_SENSITIVITY: "measuring layer sensitivity",
}


@dataclass(frozen=True)
class Opened:
    """A checkpoint the worker has loaded: what it is, and what the user should know about it."""

    info: CheckpointInfo
    label: str
    notes: list[str] = field(default_factory=list)

    @property
    def has_tokenizer(self) -> bool:
        return self.info.tokenizer_dir is not None


def _checked_chunks(path: str) -> Iterator[str]:
    """The text file at *path* in chunks; a missing or unreadable file is refused before any long work."""
    from ..core.quality import read_text

    chunks = read_text(Path(path))
    first = next(chunks, "")
    return itertools.chain([first], chunks)


def _head_text(chunks: Iterator[str], tokenizer: Any, max_tokens: int) -> str:
    """The start of a text, whole chunks at a time, until it holds more than *max_tokens* tokens."""
    text = ""
    for chunk in chunks:
        text += chunk
        if len(tokenizer(text, add_special_tokens=False)["input_ids"]) > max_tokens:
            break
    return text


class EngineWorker(QObject):
    """Runs core jobs on the engine thread; never touches a widget."""

    started = Signal(str)
    """A job (``open``, ``quantize``, ``compare``, ``continue``, ``evaluate``, ``sensitivity``) began."""
    finished = Signal(str)
    """A job ended, whatever the outcome."""
    progress = Signal(int, int, str)
    opened = Signal(object)
    """:class:`Opened`."""
    quantized = Signal(object)
    """``core.engine.QuantizeReport``."""
    compared = Signal(object)
    """``core.compare.ComparisonRow``, one per prompt."""
    continued = Signal(object)
    """``core.quality.ContinuationPair``."""
    evaluated = Signal(object)
    """``core.quality.CorpusEval``."""
    ranked = Signal(object)
    """``list[core.quality.LayerScore]``, most sensitive first."""
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

            loaded = self._require_tokenizer()
            run = RunSettings(
                repeats=settings["repeats"],
                warmup=settings["warmup"],
                threads=settings["threads"] or default_threads(),
                top_k=settings["top_k"],
            )
            n_positions = loaded.info.n_positions
            for text in prompts:  # refuse a bad prompt before any long work
                encode_prompt(loaded.tokenizer, text, n_positions)
            int8 = self._int8_for(options)
            total = len(prompts)
            for i, text in enumerate(prompts):
                if self._cancel.is_set():
                    raise Cancelled(f"Stopped after {i} of {total} prompts.")
                self.progress.emit(i, total, f"Running prompt {i + 1} of {total}")
                self.compared.emit(compare_prompt(loaded.model, int8, loaded.tokenizer, text, run, n_positions))
            self.progress.emit(total, total, "Done")

        self._run(JOB_COMPARE, job)

    @Slot(str, int, float, int, object)
    def continuation(self, prompt: str, n_tokens: int, temperature: float, seed: int, options: dict[str, Any]) -> None:
        """Both models continue *prompt* (greedy when *temperature* is 0), quantizing first if needed."""

        def job() -> None:
            from ..core.quality import continuation_pair
            from ..core.runner import encode_prompt

            loaded = self._require_tokenizer()
            n_positions = loaded.info.n_positions
            encode_prompt(loaded.tokenizer, prompt, n_positions)  # refuse a bad prompt before any long work
            int8 = self._int8_for(options)
            self.progress.emit(0, 1, "Generating with both models")
            pair = continuation_pair(
                loaded.model, int8, loaded.tokenizer, prompt, n_tokens, n_positions, temperature, seed,
                cancelled=self._cancel.is_set,
            )  # fmt: skip
            self.progress.emit(1, 1, "Done")
            self.continued.emit(pair)

        self._run(JOB_CONTINUE, job)

    @Slot(str, int, object)
    def evaluate(self, path: str, max_tokens: int, options: dict[str, Any]) -> None:
        """FP32 versus INT8 over the text file at *path*, quantizing first if needed."""

        def job() -> None:
            from ..core.quality import evaluate_text

            loaded = self._require_tokenizer()
            chunks = _checked_chunks(path)
            int8 = self._int8_for(options)
            result = evaluate_text(
                loaded.model, int8, loaded.tokenizer, chunks, loaded.info.n_positions, max_tokens,
                progress=self.progress.emit, cancelled=self._cancel.is_set,
            )  # fmt: skip
            self.evaluated.emit(result)

        self._run(JOB_EVALUATE, job)

    @Slot(str, int, object)
    def sensitivity(self, path: str, max_tokens: int, options: dict[str, Any]) -> None:
        """Rank the blocks (and lm_head) by the KL each adds alone, on the start of the text at *path*."""

        def job() -> None:
            from ..core.quality import layer_sensitivity

            loaded = self._require_tokenizer()
            text = _head_text(_checked_chunks(path), loaded.tokenizer, max_tokens)
            scores = layer_sensitivity(
                loaded.model, loaded.tokenizer, text, loaded.info.n_positions, max_tokens,
                per_channel=bool(options.get("per_channel", False)),
                progress=self.progress.emit, cancelled=self._cancel.is_set,
            )  # fmt: skip
            self.ranked.emit(scores)

        self._run(JOB_SENSITIVITY, job)

    # -- helpers ------------------------------------------------------------------------------
    def _require_loaded(self) -> LoadedCheckpoint:
        if self._loaded is None:
            raise CheckpointError("No checkpoint is loaded: open a checkpoint folder first.")
        return self._loaded

    def _require_tokenizer(self) -> LoadedCheckpoint:
        loaded = self._require_loaded()
        if loaded.tokenizer is None:
            raise TokenizerError("This checkpoint has no tokenizer: choose a tokenizer folder first.")
        return loaded

    def _int8_for(self, options: dict[str, Any]) -> Any:
        """The INT8 model of *options*: the one in memory, or a fresh (or cached) quantization."""
        if self._int8 is None or self._int8_options != options:
            self._quantize(options)
        return self._int8

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
    _continuation_requested = Signal(str, int, float, int, object)
    _evaluate_requested = Signal(str, int, object)
    _sensitivity_requested = Signal(str, int, object)

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
        self._continuation_requested.connect(self.worker.continuation)
        self._evaluate_requested.connect(self.worker.evaluate)
        self._sensitivity_requested.connect(self.worker.sensitivity)
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

    def continuation(self, prompt: str, n_tokens: int, temperature: float, seed: int, options: dict[str, Any]) -> None:
        self._cancel.clear()
        self._continuation_requested.emit(prompt, n_tokens, temperature, seed, dict(options))

    def evaluate(self, path: str, max_tokens: int, options: dict[str, Any]) -> None:
        self._cancel.clear()
        self._evaluate_requested.emit(path, max_tokens, dict(options))

    def sensitivity(self, path: str, max_tokens: int, options: dict[str, Any]) -> None:
        self._cancel.clear()
        self._sensitivity_requested.emit(path, max_tokens, dict(options))

    def cancel(self) -> None:
        """Stop every job requested so far at its next step (thread-safe); the next request clears it."""
        self._cancel.set()

    def shutdown(self) -> None:
        """Stop the current job, then the thread; blocks until the thread has ended."""
        self._cancel.set()
        self._thread.quit()
        self._thread.wait()
