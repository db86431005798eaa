"""The compare panel's prompt box: a huge paste is kept whole, and text that does not fit is never cut silently."""

from __future__ import annotations

from PySide6.QtCore import Qt

from gpt2q_desktop.app.views.compare_panel import ComparePanel

MEGABYTE_PROMPT = "word " * 200_000


def test_a_pasted_megabyte_prompt_runs_whole(make_app, run, qtbot, tiny_checkpoint):
    app = make_app(tiny_checkpoint)
    panel = app.window.compare_panel
    panel.prompt.insert(MEGABYTE_PROMPT)
    assert len(panel.prompt.text()) == 1_000_000 and panel.note.text() == ""
    run(app, lambda: qtbot.keyClick(panel.prompt, Qt.Key.Key_Return))
    (row,) = app.history.rows
    assert row.prompt == MEGABYTE_PROMPT
    assert "truncated from the left" in panel.note.text()


def test_text_that_does_not_fit_is_cut_with_a_visible_note(qtbot):
    panel = ComparePanel()
    qtbot.addWidget(panel)
    panel.prompt.setMaxLength(10)
    panel.prompt.insert("x" * 25)
    assert len(panel.prompt.text()) == 10
    assert "at most 10 characters" in panel.note.text()
