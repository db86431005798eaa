"""Progress and log: one activity-line lifecycle for every job, and a log of what the window did (pane and file)."""

from __future__ import annotations

import re
from pathlib import Path

import pytest
from PySide6.QtCore import Qt

from gpt2q_desktop.app.views.job_progress import CANCELLING, NOTHING_RUN, READY, JobProgress
from gpt2q_desktop.core.logs import setup_logging
from tests.conftest import TRAIN_TEXT

PROMPT = "The cat sat on the"


@pytest.fixture
def log_path(undo_logging) -> Path:
    """Logging set up as the app's ``main`` does, before the window is built; the log file's path."""
    path = setup_logging()
    assert path is not None
    return path


def state(job: JobProgress) -> tuple[str, str]:
    """An activity line as a user reads it: its text, and its bar (``full``, ``empty``, ``busy`` or ``i/n``)."""
    bar = job.bar
    if bar.maximum() == 0:
        shown = "busy"
    elif bar.value() == bar.maximum() and bar.isTextVisible():
        shown = "full"
    elif bar.value() <= bar.minimum() and not bar.isTextVisible():
        shown = "empty"
    else:
        shown = f"{bar.value()}/{bar.maximum()}"
    return job.step.text(), shown


def position(lines: list[str], level: str, text: str, after: int = -1) -> int:
    """The index of the first line after *after* logged at *level* that holds *text*."""
    pattern = re.compile(rf"\b{level}\b.*{re.escape(text)}")
    found = [i for i, line in enumerate(lines) if i > after and pattern.search(line)]
    assert found, f"no {level} line with {text!r} after line {after} in:\n" + "\n".join(lines)
    return found[0]


def test_the_log_pane_and_file_say_what_the_window_did(make_app, run, tiny_checkpoint, log_path):
    app = make_app(tiny_checkpoint)
    run(app, app.quantize)
    run(app, app.quantize)  # the same recipe again: from the cache

    pane = app.window.log_dock.text.toPlainText().splitlines()
    for lines in (pane, log_path.read_text(encoding="utf-8").splitlines()):
        at = position(lines, "INFO", "Opened tiny-gpt2: 2 layers")
        for text in (
            "Quantizing tiny-gpt2 for PyTorch: per-tensor", "Cache miss: quantizing tiny-gpt2", "Cache entry written:",
            "INT8 model ready: 9/9 linear layers INT8", "Quantizing tiny-gpt2 for PyTorch", "Cache hit: INT8 model",
        ):  # fmt: skip
            at = position(lines, "INFO", text, at)
        assert "from cache" in lines[position(lines, "INFO", "INT8 model ready", at)]
    assert not [line for line in pane if " DEBUG " in line], "the pane shows INFO and above"


def test_a_failure_is_one_warning_line_in_the_pane_and_the_details_in_the_file(
    make_app, run, boxes, tiny_checkpoint, tmp_path, log_path
):
    app = make_app(tiny_checkpoint)
    missing = tmp_path / "missing.txt"
    app.window.quality_panel.set_text_file(str(missing))
    run(app, app.window.quality_panel.evaluation_requested.emit)

    assert len(boxes) == 1 and "missing.txt" in boxes[0]
    pane = app.window.log_dock.text.toPlainText().splitlines()
    line = pane[position(pane, "WARNING", "Failed evaluating the text:")]
    assert "missing.txt" in line
    assert not [line for line in pane if line.startswith("Traceback")], "a traceback stays in the file"
    assert "Traceback" in log_path.read_text(encoding="utf-8")


def test_every_job_ends_in_its_own_panel_with_the_same_wording(make_app, run, tiny_checkpoint, tmp_path):
    corpus = tmp_path / "corpus.txt"
    corpus.write_text(TRAIN_TEXT, encoding="utf-8")
    app = make_app(tiny_checkpoint)
    window, lab = app.window, app.window.quality_panel
    lab.set_text_file(str(corpus))
    lab.offer_prompt(PROMPT)
    ready = (READY, "empty")

    def ended(action, text: str, in_lab: bool = False) -> None:
        run(app, action)
        own, other = (lab.job, window.quantize_panel.job) if in_lab else (window.quantize_panel.job, lab.job)
        assert (state(own), state(other)) == ((text, "full"), ready)

    assert (state(window.quantize_panel.job), state(lab.job)) == (("Done: checkpoint loaded.", "full"), ready)
    ended(app.quantize, "Done: INT8 model ready.")
    ended(lambda: app.run_prompt(PROMPT), "Done: 1 prompt compared.")
    ended(lab.evaluation_requested.emit, "Done: text evaluated.", in_lab=True)
    ended(lab.sensitivity_requested.emit, "Done: layer sensitivity measured.", in_lab=True)
    ended(lab.continuation_requested.emit, "Done: continuations generated.", in_lab=True)
    ended(lambda: app.run_prompts([PROMPT, PROMPT + " mat"]), "Done: 2 prompts compared.")


def test_the_quality_lab_reads_no_done_before_anything_ran_there(make_app, run, tiny_checkpoint):
    app = make_app()
    lab = app.window.quality_panel.job
    assert state(lab) == state(app.window.quantize_panel.job) == (NOTHING_RUN, "empty")

    run(app, lambda: app.checkpoints.open_checkpoint(str(tiny_checkpoint)))
    app.window.tabs.setCurrentWidget(app.window.quality_panel)
    run(app, lambda: app.run_prompt(PROMPT))

    assert app.history.rowCount() == 1
    assert state(lab) == (READY, "empty"), "a prompt of the Compare tab is not the lab's job"


def test_a_cancelled_or_failed_job_leaves_an_empty_bar_and_says_so(make_app, run, boxes, tiny_checkpoint):
    app = make_app(tiny_checkpoint)
    worker, job = app.runner.worker, app.window.quantize_panel.job

    def cancel_at_second_step(job, done: int, total: int, message: str) -> None:  # runs on the worker thread
        if done == 1:
            app.runner.cancel()

    worker.progress.connect(cancel_at_second_step, Qt.ConnectionType.DirectConnection)
    run(app, app.quantize)
    worker.progress.disconnect(cancel_at_second_step)
    assert state(job) == ("Cancelled: Quantization cancelled; nothing was saved.", "empty")

    run(app, lambda: app.run_prompt("  "))  # refused by the worker, as a prompt list's blank line would be
    assert boxes == ["The prompt is empty: type some text to predict its next token."]
    assert state(job) == (f"Failed: {boxes[0]}", "empty")


def test_cancelling_keeps_saying_so_while_the_last_steps_arrive(qtbot):
    from PySide6.QtWidgets import QWidget

    parent = QWidget()
    qtbot.addWidget(parent)
    job = JobProgress(parent)
    job.set_busy("Running…")
    job.set_cancelling()
    job.set_progress(1, 3, "Running prompt 2 of 3")
    assert state(job) == (CANCELLING, "1/3")
    job.set_busy("Quantizing…")
    job.set_progress(0, 3, "Quantizing block 1")
    assert state(job) == ("Quantizing block 1", "0/3")
