"""Where the app's files live: bundled resources (source tree, editable install or PyInstaller bundle) and
the user data directory (cache, logs)."""

from __future__ import annotations

import os
import sys
from pathlib import Path

ENV_RESOURCES = "GPT2Q_RESOURCES"
ENV_DATA_DIR = "GPT2Q_DATA_DIR"
APP_NAME = "gpt2q-desktop"


def resources_dir() -> Path:
    """``$GPT2Q_RESOURCES``, the PyInstaller bundle's ``resources/``, or the project's ``resources/``."""
    override = os.environ.get(ENV_RESOURCES)
    if override:
        return Path(override)
    bundle = getattr(sys, "_MEIPASS", None)
    if bundle:
        return Path(bundle) / "resources"
    return Path(__file__).resolve().parents[2] / "resources"


def demo_student_dir() -> Path:
    """The bundled, trained demo student: the default checkpoint of the CLI and the window."""
    return resources_dir() / "demo-student"


def bundled_tokenizer_dir() -> Path:
    """The original GPT-2 tokenizer files shipped with the app."""
    return resources_dir() / "gpt2-tokenizer"


def demo_heldout_text() -> Path:
    """Held-out prose of the demo student's corpus (never seen in training), for evaluations."""
    return demo_student_dir() / "heldout.txt"


def data_dir() -> Path:
    """The app's data directory: ``$GPT2Q_DATA_DIR`` or the platform's user data dir."""
    override = os.environ.get(ENV_DATA_DIR)
    if override:
        return Path(override).expanduser()
    import platformdirs

    return Path(platformdirs.user_data_dir(APP_NAME, appauthor=False))
