"""Where checkpoints can come from besides "Open folder": GPT-2 models already in the local Hugging Face cache.

Only reads ``config.json`` files that are regular files (a FIFO or device there would block a read);
never downloads anything.
"""

from __future__ import annotations

import json
import os
import time
from dataclasses import dataclass
from pathlib import Path

from gpt2q_desktop.core.files import read_regular_text


@dataclass(frozen=True)
class FoundModel:
    """A GPT-2 snapshot in the Hugging Face cache."""

    repo: str
    revision: str
    path: Path

    @property
    def label(self) -> str:
        return f"{self.repo} ({self.revision[:8]})"


def hf_cache_roots() -> list[Path]:
    """``$HF_HUB_CACHE``, ``$HF_HOME/hub`` and ``~/.cache/huggingface/hub``, without duplicates."""
    roots = []
    if os.environ.get("HF_HUB_CACHE"):
        roots.append(Path(os.environ["HF_HUB_CACHE"]))
    if os.environ.get("HF_HOME"):
        roots.append(Path(os.environ["HF_HOME"]) / "hub")
    roots.append(Path.home() / ".cache" / "huggingface" / "hub")
    unique: list[Path] = []
    for root in roots:
        root = root.expanduser()
        if root not in unique:
            unique.append(root)
    return unique


def find_hf_gpt2(roots: list[Path] | None = None, time_limit_s: float | None = None) -> list[FoundModel]:
    """Every ``models--*/snapshots/*/`` whose ``config.json`` says ``model_type: gpt2`` (what was found so far,
    if the scan takes longer than *time_limit_s*)."""
    deadline = None if time_limit_s is None else time.monotonic() + time_limit_s
    found = []
    for root in hf_cache_roots() if roots is None else roots:
        if not root.is_dir():
            continue
        for config in sorted(root.glob("models--*/snapshots/*/config.json")):
            if deadline is not None and time.monotonic() > deadline:
                return found
            try:
                model_type = json.loads(read_regular_text(config)).get("model_type")
            except (OSError, ValueError, AttributeError):
                continue
            if model_type == "gpt2":
                repo = config.parents[2].name.removeprefix("models--").replace("--", "/")
                found.append(FoundModel(repo, config.parent.name, config.parent))
    return found
