"""Trace and quantize ONNX graphs in a child process: cancel stops it at once, and the caller's process (the
window's event loop) never waits on the exporter's long, lock-holding steps or carries its memory peak.

The child reloads the checkpoint from its folder (already checked by the parent), writes the requested files and
reports each stage; the parent relays the stages to ``progress`` and kills the child when ``cancelled()``.
"""

from __future__ import annotations

import multiprocessing
import time
import traceback
from dataclasses import dataclass
from pathlib import Path
from typing import Any

from gpt2q_desktop.core.checkpoints.checkpoint import CheckpointInfo
from gpt2q_desktop.core.errors import Cancelled, Gpt2qError
from gpt2q_desktop.core.options import RecipeOptions
from gpt2q_desktop.core.progress import CancelFn, ProgressFn

EXIT_GRACE_S = 10.0
"""How long a child that has reported may take to exit by itself; killed, it leaves its semaphores to the
resource tracker, which warns of them at the app's exit."""


@dataclass(frozen=True)
class BuildJob:
    """What the child makes: the FP32 graph of *info* (if *fp32_out*), then the INT8 graph of *options*."""

    info: CheckpointInfo
    fp32_path: Path
    trace_fp32: bool
    int8_path: Path | None = None
    options: RecipeOptions | None = None

    @property
    def stages(self) -> list[str]:
        stages = ["Tracing the FP32 model into an ONNX graph (torch.onnx, dynamo)"] if self.trace_fp32 else []
        if self.int8_path is not None:
            stages.append("Quantizing the ONNX graph to INT8 (ONNX Runtime)")
        return stages


def _end_with_parent() -> None:
    """Exit this child the moment its parent ends, even by SIGKILL: nobody would read what it writes.

    ``parent_process().sentinel`` is a pipe end that reads EOF (POSIX) or the parent's process handle that is
    signalled (Windows) when the parent is gone; a daemon thread waits on it.
    """
    import os
    import threading
    from multiprocessing.connection import wait

    parent = multiprocessing.parent_process()
    if parent is None:
        return
    sentinel = parent.sentinel

    def watch() -> None:
        wait([sentinel])
        os._exit(1)

    threading.Thread(target=watch, name="gpt2q-parent-watch", daemon=True).start()


def _child(conn: Any, job: BuildJob) -> None:
    """The child's work: each stage announced, then ``("done", result)`` or ``("error", kind, message)``."""
    _end_with_parent()
    try:
        result: dict[str, Any] = {}
        stage = 0
        if job.trace_fp32:
            from gpt2q_desktop.core.checkpoints.checkpoint import load_inspected
            from gpt2q_desktop.core.ort.graph import trace_fp32_graph

            conn.send(("stage", stage))
            result["fp32"] = trace_fp32_graph(load_inspected(job.info).model, job.fp32_path)
            stage += 1
        if job.int8_path is not None and job.options is not None:
            from dataclasses import asdict

            from gpt2q_desktop.core.ort.recipe import quantize_graph

            conn.send(("stage", stage))
            result["counts"] = asdict(quantize_graph(job.fp32_path, job.int8_path, job.options))
        conn.send(("done", result))
    except Gpt2qError as exc:
        conn.send(("error", "user", str(exc)))
    except BaseException as exc:  # anything else is reported as a failure of the export, with its cause
        conn.send(("error", "internal", f"{type(exc).__name__}: {exc}\n{traceback.format_exc(limit=8)}"))
    finally:
        conn.close()


def run_build(job: BuildJob, progress: ProgressFn | None = None, cancelled: CancelFn | None = None) -> dict[str, Any]:
    """Run *job* in a child process; its result, or the child's error raised here; Cancelled kills the child."""
    ctx = multiprocessing.get_context("spawn")
    parent, child = ctx.Pipe(duplex=False)
    proc = ctx.Process(target=_child, args=(child, job), name="gpt2q-onnx-build", daemon=True)
    stages, started = job.stages, time.monotonic()
    proc.start()
    child.close()
    try:
        while True:
            if cancelled is not None and cancelled():
                raise Cancelled("Stopped; no ONNX model was saved.")
            if parent.poll(0.1):
                try:
                    message = parent.recv()
                except EOFError:
                    message = ("error", "internal", f"the ONNX build process ended with code {proc.exitcode}")
                result = answer(message, stages, progress)
                if result is not None:
                    return result
            elif not proc.is_alive() and not parent.poll(0):
                code = proc.exitcode
                raise Gpt2qError(
                    f"The ONNX build process stopped (exit code {code}) after {time.monotonic() - started:.0f} s;"
                    " it may have run out of memory."
                )
    except BaseException as exc:
        if isinstance(exc, Cancelled) or not isinstance(exc, Gpt2qError):  # else the child reported and is ending
            proc.kill()
        raise
    finally:
        proc.join(EXIT_GRACE_S)
        if proc.is_alive():
            proc.kill()
            proc.join(5)
        parent.close()


def answer(message: tuple[Any, ...], stages: list[str], progress: ProgressFn | None) -> dict[str, Any] | None:
    """What one message of the child means to its parent: a stage, relayed to *progress* (None is returned); the
    child's result, returned; or its error, raised."""
    kind = message[0]
    if kind == "stage" and progress is not None:
        progress(message[1], len(stages), stages[message[1]])
    elif kind == "done":
        return dict(message[1])
    elif kind == "error":
        raise _error(message[1], message[2])
    return None


def _error(kind: str, message: str) -> Gpt2qError:
    import logging

    if kind == "user":
        return Gpt2qError(message)
    logging.getLogger("gpt2q").error("ONNX build failed: %s", message)
    return Gpt2qError(f"The ONNX build failed: {message.splitlines()[0]}")
