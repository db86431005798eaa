"""The window's jobs: one small typed request per kind, and what running it on the session means.

A job is created on the GUI thread, handed to the worker thread by :class:`~.worker.JobRunner` and run
there on the one :class:`~gpt2q_desktop.core.session.Session`; every signal about it carries the job
itself. A new kind of job is one new class here: its fields and its :meth:`Job.run`.

This module is Qt-free and torch-free (the session imports torch only when a job runs).
"""

from __future__ import annotations

from collections.abc import Callable
from dataclasses import dataclass
from pathlib import Path
from typing import TYPE_CHECKING, Any, ClassVar, Literal

from gpt2q_desktop.core.options import ContinuationSettings, RecipeOptions, RunSettings
from gpt2q_desktop.core.runtimes import Runtime
from gpt2q_desktop.core.text import counted

if TYPE_CHECKING:
    from gpt2q_desktop.core.progress import CancelFn, ProgressFn
    from gpt2q_desktop.core.session import Session


LabTool = Literal["continuation", "evaluation", "sensitivity"]
"""The Quality lab's tools: each shows its own results and how its job ended."""


@dataclass(frozen=True)
class JobContext:
    """What a running job may use: report progress, ask whether to stop, hand over a result."""

    progress: ProgressFn
    cancelled: CancelFn
    emit: Callable[[Any], None]

    @property
    def callbacks(self) -> dict[str, Any]:
        """``progress`` and ``cancelled``, as the session's verbs take them by keyword."""
        return {"progress": self.progress, "cancelled": self.cancelled}


@dataclass(frozen=True, eq=False)
class Job:
    """A request for the worker thread; compared by identity, so two equal requests stay two jobs."""

    starting: ClassVar[str] = "Working…"
    """What the activity line says while the job starts."""
    doing: ClassVar[str] = "working"
    """The job in words, for an unexpected error: "Unexpected error while <doing>"."""
    did: ClassVar[str] = "finished"
    """What the job made, in words: the activity line says "Done: <did>." once it has run to its end."""
    lab_tool: ClassVar[LabTool | None] = None
    """The Quality lab tool the job belongs to (its activity line shows how the job ends), or None."""

    def run(self, session: Session, context: JobContext) -> None:
        raise NotImplementedError

    def done(self) -> str:
        """The activity line once the job has run to its end."""
        return f"Done: {self.did}."


@dataclass(frozen=True, eq=False)
class OpenJob(Job):
    """Forget the current checkpoint, load another; emits :class:`~gpt2q_desktop.core.session.Opened`."""

    path: str
    tokenizer: str | None = None
    starting: ClassVar[str] = "Loading the checkpoint…"
    doing: ClassVar[str] = "loading the checkpoint"
    did: ClassVar[str] = "checkpoint loaded"

    def run(self, session: Session, context: JobContext) -> None:
        session.open(self.path, self.tokenizer)
        context.emit(session.load())


@dataclass(frozen=True, eq=False)
class QuantizeJob(Job):
    """Quantize (or load from the cache) with *options* on each of *runtimes*, in order; each report comes as
    the worker's ``quantized``."""

    options: RecipeOptions
    runtimes: tuple[str, ...] = (Runtime.TORCH,)
    starting: ClassVar[str] = "Quantizing…"
    doing: ClassVar[str] = "quantizing"
    did: ClassVar[str] = "INT8 model ready"

    def run(self, session: Session, context: JobContext) -> None:
        for runtime in self.runtimes:
            session.quantize(self.options, context.progress, context.cancelled, runtime)


@dataclass(frozen=True, eq=False)
class CompareJob(Job):
    """FP32 versus INT8 on each prompt; emits one ``ComparisonRow`` per prompt and runtime (a prompt's rows in
    the order of *runtimes*)."""

    prompts: tuple[str, ...]
    settings: RunSettings
    options: RecipeOptions
    runtimes: tuple[str, ...] = (Runtime.TORCH,)
    starting: ClassVar[str] = "Running…"
    doing: ClassVar[str] = "running the prompt"

    def run(self, session: Session, context: JobContext) -> None:
        rows = session.compare(self.prompts, self.options, self.settings, runtimes=self.runtimes, **context.callbacks)
        for row in rows:
            context.emit(row)

    def done(self) -> str:
        return f"Done: {counted(len(self.prompts), 'prompt')} compared."


@dataclass(frozen=True, eq=False)
class ContinueJob(Job):
    """Both models of *runtime* continue a prompt; emits a ``ContinuationPair``."""

    prompt: str
    settings: ContinuationSettings
    options: RecipeOptions
    runtime: str = Runtime.TORCH
    starting: ClassVar[str] = "Generating…"
    doing: ClassVar[str] = "generating the continuations"
    did: ClassVar[str] = "continuations generated"
    lab_tool: ClassVar[LabTool | None] = "continuation"

    def run(self, session: Session, context: JobContext) -> None:
        s = self.settings
        context.emit(
            session.continue_prompt(
                self.prompt, s.n_tokens, s.temperature, s.seed, self.options, runtime=self.runtime, **context.callbacks
            )
        )


@dataclass(frozen=True, eq=False)
class TextJob(Job):
    """A job over the start of a text file: at most *max_tokens* of its tokens, under *options*."""

    path: str
    max_tokens: int
    options: RecipeOptions


@dataclass(frozen=True, eq=False)
class EvaluateJob(TextJob):
    """FP32 versus INT8 of *runtime* over a text file; emits a ``CorpusEval``."""

    runtime: str = Runtime.TORCH
    starting: ClassVar[str] = "Evaluating the text…"
    doing: ClassVar[str] = "evaluating the text"
    did: ClassVar[str] = "text evaluated"
    lab_tool: ClassVar[LabTool | None] = "evaluation"

    def run(self, session: Session, context: JobContext) -> None:
        path, tokens, options = Path(self.path), self.max_tokens, self.options
        context.emit(session.evaluate(path, tokens, options, runtime=self.runtime, **context.callbacks))


@dataclass(frozen=True, eq=False)
class SensitivityJob(TextJob):
    """Rank the layers by the KL each adds alone, on the start of a text; emits ``list[LayerScore]``."""

    starting: ClassVar[str] = "Measuring layer sensitivity…"
    doing: ClassVar[str] = "measuring layer sensitivity"
    did: ClassVar[str] = "layer sensitivity measured"
    lab_tool: ClassVar[LabTool | None] = "sensitivity"

    def run(self, session: Session, context: JobContext) -> None:
        context.emit(session.sensitivity(Path(self.path), self.max_tokens, self.options, **context.callbacks))


@dataclass(frozen=True, eq=False)
class ExportJob(Job):
    """Write the ONNX Runtime INT8 model of *options* into the folder *out* (into a non-empty one only with
    *overwrite*); emits the folder's ``Path``."""

    out: str
    options: RecipeOptions
    overwrite: bool = False
    starting: ClassVar[str] = "Exporting the INT8 model…"
    doing: ClassVar[str] = "exporting the INT8 model"

    def run(self, session: Session, context: JobContext) -> None:
        context.emit(session.export_model(Path(self.out), self.options, self.overwrite, **context.callbacks))

    def done(self) -> str:
        return f"Done: INT8 model exported to {self.out}."
