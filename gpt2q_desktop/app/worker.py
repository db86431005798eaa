"""The worker thread: one ``QObject`` on one ``QThread`` runs every job, in order, on one core session.

The window never imports torch. A controller asks :class:`JobRunner` to run a :class:`~.jobs.Job`; the
:class:`JobWorker` runs it on its thread and answers with signals that carry the job itself and the core's
results. Jobs are queued, so torch work is serialised on that one thread; :attr:`JobRunner.pending` is the
one record of what is queued. Cancel sets a thread-safe flag that the core polls; a new request clears it.
"""

from __future__ import annotations

import functools
import logging
import threading

from PySide6.QtCore import QObject, QThread, Signal, Slot

from gpt2q_desktop.core.errors import Cancelled, Gpt2qError
from gpt2q_desktop.core.session import Session

from .gc_guard import freeze_libraries, importing_libraries
from .jobs import Job, JobContext, OpenJob
from .preload import preload_libraries

log = logging.getLogger("gpt2q")


def _warm_up() -> None:
    """Before the first job: import torch and transformers, what the ONNX Runtime path runs in this process
    (onnxruntime; onnx itself is imported only by the child that builds graphs) and build the bundled GPT-2
    tokenizer (work that holds the GIL for long stretches, so it is done once, with the start-up), then exempt all
    that from later garbage collections (:func:`~.gc_guard.freeze_libraries`; unfrozen, the libraries' objects
    make each full collection a long stall). The GUI thread collects nothing meanwhile
    (:func:`~.gc_guard.importing_libraries`), and torch's native library is loaded with the GIL released
    (:func:`~.preload.preload_libraries`)."""
    from gpt2q_desktop.core.checkpoints.tokenizer import load_tokenizer
    from gpt2q_desktop.core.paths import bundled_tokenizer_dir

    with importing_libraries():
        preload_libraries()  # before anything imports torch
        try:
            load_tokenizer(bundled_tokenizer_dir())
        except Gpt2qError as exc:  # a checkpoint brings its own; say why the shared one is missing
            log.warning("the bundled GPT-2 tokenizer is unusable: %s", exc)
        try:
            from gpt2q_desktop.core.ort import pipeline as onnx_pipeline

            onnx_pipeline.versions()  # imports onnxruntime
        except ImportError as exc:  # PyTorch still works; an ONNX Runtime job will say what is missing
            log.warning("the ONNX Runtime path is unavailable: %s", exc)
        freeze_libraries()


class JobWorker(QObject):
    """Runs jobs on the worker thread; never touches a widget. Every signal's first argument is the job."""

    started = Signal(object)
    progress = Signal(object, int, int, str)
    """``(job, done, total, message)``."""
    produced = Signal(object, object)
    """``(job, result)``: what the job made (its class says what: ``Opened``, ``ComparisonRow``, ...)."""
    quantized = Signal(object, object)
    """``(job, QuantizeReport)``: a new INT8 model, whichever job needed it."""
    succeeded = Signal(object)
    """The job ran to its end."""
    failed = Signal(object, str)
    """``(job, message)``: the job stopped on an error; *message* is what the user is told."""
    cancelled = Signal(object, str)
    finished = Signal(object)
    """The job ended, whatever the outcome (after ``succeeded``, ``failed`` or ``cancelled``)."""

    def __init__(self, cancel_flag: threading.Event) -> None:
        super().__init__()
        self._cancel = cancel_flag
        self._session = Session()
        self._warmed_up = False

    @Slot(object)
    def run(self, job: Job) -> None:
        self.started.emit(job)
        context = JobContext(
            progress=functools.partial(self.progress.emit, job),
            cancelled=self._cancel.is_set,
            emit=functools.partial(self.produced.emit, job),
        )
        self._session.on_quantized = functools.partial(self.quantized.emit, job)
        try:
            if not self._warmed_up:
                threading.current_thread().name = "gpt2q-worker"  # as the log file names it
                _warm_up()
                self._warmed_up = True
            job.run(self._session, context)
        except Cancelled as exc:
            log.info("Cancelled %s: %s", job.doing, exc)
            self.cancelled.emit(job, str(exc))
        except Gpt2qError as exc:
            log.warning("Failed %s: %s", job.doing, exc)
            log.debug("where %s failed", job.doing, exc_info=True)  # the file only: a refusal is no crash
            self.failed.emit(job, str(exc))
        except Exception as exc:  # the app must keep working whatever the core or torch raises
            text = f"Unexpected error while {job.doing} ({type(exc).__name__}: {exc}). Details are in the log."
            log.error("%s", text, exc_info=True)
            self.failed.emit(job, text)
        else:
            self.succeeded.emit(job)
        finally:
            self.finished.emit(job)


class JobRunner(QObject):
    """Owns the worker thread and its worker, and knows which jobs are queued or running."""

    changed = Signal()
    """A job was queued or has finished."""
    idle = Signal()
    """Every queued job has finished."""
    _requested = Signal(object)

    def __init__(self, parent: QObject | None = None) -> None:
        super().__init__(parent)
        self._cancel = threading.Event()
        self.pending: list[Job] = []
        """Queued or running jobs, oldest first."""
        self.worker = JobWorker(self._cancel)
        self._thread = QThread()
        self._thread.setObjectName("gpt2q-worker")
        self.worker.moveToThread(self._thread)
        self._requested.connect(self.worker.run)
        self.worker.finished.connect(self._on_finished)
        self._thread.finished.connect(self.worker.deleteLater)
        self._thread.start()

    @property
    def busy(self) -> bool:
        """True while any job is queued or running."""
        return bool(self.pending)

    @property
    def working(self) -> bool:
        """True while a job other than opening a checkpoint is queued or running."""
        return any(not isinstance(job, OpenJob) for job in self.pending)

    def submit(self, job: Job) -> None:
        """Queue *job* on the worker thread (clearing an earlier cancel)."""
        self._cancel.clear()
        self.pending.append(job)
        self.changed.emit()
        self._requested.emit(job)

    def cancel(self) -> None:
        """Stop every job requested so far at its next step (thread-safe); the next request clears it."""
        self._cancel.set()

    def shutdown(self) -> None:
        """Stop the current job, then the thread; blocks until the thread has ended."""
        self._cancel.set()
        self._thread.quit()
        self._thread.wait()

    def _on_finished(self, job: Job) -> None:
        self.pending = [queued for queued in self.pending if queued is not job]
        self.changed.emit()
        if not self.pending:
            self.idle.emit()
