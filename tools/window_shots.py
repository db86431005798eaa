"""Screenshots of the real window at three sizes, both tabs, after real jobs on the demo student.

    python tools/window_shots.py OUT_DIR [--runtime torch|onnxruntime|both] [--prompt TEXT]

Builds the window offscreen (clean data and settings in a temporary folder), opens the demo student, quantizes,
compares a prompt, continues it and evaluates the held-out text in the Quality lab, ranks the layers, then saves
``<tab>-<runtime>-<width>x<height>.png`` for 1024x640, 1280x800 and 1600x1000 into OUT_DIR (and the Quality
lab's whole content, scrolled parts too, as ``quality-<runtime>-<width>x<height>-content.png``).
"""

from __future__ import annotations

import argparse
import os
import sys
import tempfile
from collections.abc import Callable
from pathlib import Path

SIZES = ((1024, 640), (1280, 800), (1600, 1000))
EVAL_TOKENS = 2_000
SENSITIVITY_TOKENS = 128
JOB_TIMEOUT_MS = 600_000


def _arguments() -> argparse.Namespace:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("out", type=Path, help="folder for the PNGs (made if missing)")
    parser.add_argument("--runtime", default="torch", choices=("torch", "onnxruntime", "both"))
    parser.add_argument("--prompt", default="The sky is")
    return parser.parse_args()


def main() -> int:
    args = _arguments()
    work = Path(tempfile.mkdtemp(prefix="gpt2q-shots-"))
    os.environ["QT_QPA_PLATFORM"] = "offscreen"
    os.environ["HF_HUB_OFFLINE"] = "1"
    os.environ["GPT2Q_DATA_DIR"] = str(work / "data")
    os.environ["GPT2Q_SETTINGS_FILE"] = str(work / "settings.ini")

    from PySide6.QtCore import QEventLoop, QTimer
    from PySide6.QtWidgets import QApplication, QScrollArea

    from gpt2q_desktop.app.gc_guard import MainThreadCollector
    from gpt2q_desktop.app.main import build
    from gpt2q_desktop.core.options import RunSettings

    app = QApplication([sys.argv[0]])
    collector = MainThreadCollector(app)
    controller = build()
    window = controller.window

    def wait_idle(action: Callable[[], object]) -> None:
        """Start a job through *action* and run the event loop until the worker is idle again."""
        loop = QEventLoop()
        controller.idle.connect(loop.quit)
        QTimer.singleShot(JOB_TIMEOUT_MS, loop.quit)
        action()
        if controller.busy:
            loop.exec()
        controller.idle.disconnect(loop.quit)

    def settle() -> None:
        for _ in range(5):
            app.processEvents()

    window.resize(*SIZES[0])
    window.show()
    wait_idle(lambda: controller.start(None, restore=True))  # no checkpoint remembered: the demo student
    window.quantize_panel.set_runtime_choice(args.runtime)
    window.compare_panel.set_settings(RunSettings(repeats=5, warmup=1, threads=1, top_k=5))
    wait_idle(controller.quantize)
    window.compare_panel.prompt.setText(args.prompt)
    wait_idle(lambda: controller.run_prompt(args.prompt))
    lab = window.quality_panel
    window.tabs.setCurrentWidget(lab)
    lab.eval_tokens.setValue(EVAL_TOKENS)
    lab.sensitivity_tokens.setValue(SENSITIVITY_TOKENS)
    wait_idle(lab.continuation.run_button.click)
    wait_idle(lab.evaluate_button.click)
    wait_idle(lab.sensitivity_button.click)

    args.out.mkdir(parents=True, exist_ok=True)
    for width, height in SIZES:
        window.resize(width, height)
        for name, tab in (("compare", window.compare_panel), ("quality", lab)):
            window.tabs.setCurrentWidget(tab)
            settle()
            size = window.size()
            path = args.out / f"{name}-{args.runtime}-{width}x{height}.png"
            window.grab().save(str(path))
            print(f"{path} ({size.width()}x{size.height()})")
        lab_content = lab.findChild(QScrollArea).widget()  # all of the lab, also what is scrolled out of view
        lab_content.grab().save(str(args.out / f"quality-{args.runtime}-{width}x{height}-content.png"))
    window.close()
    controller.runner.shutdown()
    collector.stop()
    return 0


if __name__ == "__main__":
    sys.exit(main())
