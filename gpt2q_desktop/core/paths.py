"""Where the app's bundled resources live (source tree, editable install or PyInstaller bundle)."""

from __future__ import annotations

import os
import sys
from pathlib import Path

ENV_RESOURCES = "GPT2Q_RESOURCES"


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
