"""The first checkpoint open of a fresh process, as the event loop sees it.

Run as ``python -m tests.app.first_open CHECKPOINT``: builds and shows the window as ``gpt2q-desktop`` does (no
library of the worker's imported yet), opens *CHECKPOINT* and prints, as one JSON line, what
:func:`tests.app.stalls.stall_watch` saw while it opened and for a moment after (``start`` and ``marks``, the
fields of :class:`~tests.app.stalls.Ticks`), whether it opened, and which libraries were imported before.
"""

from __future__ import annotations

import json
import os
import sys

WATCHED = ("torch", "transformers", "onnx", "onnxruntime", "tokenizers")
AFTER_MS = 500
"""The watch goes on this long after the open has ended."""


def main(checkpoint: str) -> int:
    os.environ.setdefault("QT_QPA_PLATFORM", "offscreen")
    from PySide6.QtCore import QEventLoop, QTimer
    from PySide6.QtWidgets import QApplication

    from gpt2q_desktop.app.gc_guard import MainThreadCollector
    from gpt2q_desktop.app.main import build
    from tests.app.stalls import stall_watch

    app = QApplication([sys.argv[0]])
    collector = MainThreadCollector(app)
    controller = build()
    controller.window.show()
    app.processEvents()
    before = [name for name in WATCHED if name in sys.modules]
    loop = QEventLoop()
    controller.idle.connect(lambda: QTimer.singleShot(AFTER_MS, loop.quit))
    QTimer.singleShot(120_000, loop.quit)
    with stall_watch() as ticks:
        QTimer.singleShot(0, lambda: controller.start(checkpoint))  # as main() does
        loop.exec()
    opened = controller.info is not None
    controller.window.close()
    controller.runner.shutdown()
    collector.stop()
    print(json.dumps({"start": ticks.start, "marks": ticks.marks, "opened": opened, "imported_before": before}))
    return 0


if __name__ == "__main__":
    sys.exit(main(sys.argv[1]))
