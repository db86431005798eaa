"""Remembered state (geometry, last checkpoint, recipe and run options, recent folders) in ``QSettings``.

The platform's config location is used, unless ``$GPT2Q_SETTINGS_FILE`` names an INI file (tests).
"""

from __future__ import annotations

import os
from typing import Any

from PySide6.QtCore import QByteArray, QSettings

ENV_SETTINGS_FILE = "GPT2Q_SETTINGS_FILE"
ORGANIZATION = "gpt2q"
APPLICATION = "gpt2q-desktop"
MAX_RECENT = 8

DEFAULT_OPTIONS: dict[str, Any] = {
    "per_channel": False,
    "keep_lm_head": False,
    "quantize_embeddings": True,
    "exclude_layers": [],
}
"""``exclude_layers``: the blocks kept in FP32."""
DEFAULT_RUN: dict[str, int] = {"repeats": 20, "warmup": 3, "threads": 0, "top_k": 5}
"""``threads`` 0 means the core's default thread count."""


def _as_bool(value: Any) -> bool:
    return value in (True, "true", "1", 1)


def _as_blocks(value: Any) -> list[int]:
    """Block numbers stored as ``"0,3"`` (junk is skipped)."""
    items = value if isinstance(value, list) else str(value or "").split(",")
    return sorted({int(item) for item in map(str, items) if item.strip().isascii() and item.strip().isdigit()})


class AppSettings:
    """Typed access to the few values the window remembers."""

    def __init__(self) -> None:
        path = os.environ.get(ENV_SETTINGS_FILE)
        if path:
            self._s = QSettings(path, QSettings.Format.IniFormat)
        else:
            self._s = QSettings(QSettings.Format.IniFormat, QSettings.Scope.UserScope, ORGANIZATION, APPLICATION)

    def file_name(self) -> str:
        return self._s.fileName()

    def sync(self) -> None:
        self._s.sync()

    @property
    def geometry(self) -> QByteArray | None:
        value = self._s.value("window/geometry")
        return value if isinstance(value, QByteArray) else None

    @geometry.setter
    def geometry(self, value: QByteArray) -> None:
        self._s.setValue("window/geometry", value)

    @property
    def last_checkpoint(self) -> str | None:
        return self._s.value("checkpoint/last") or None

    @last_checkpoint.setter
    def last_checkpoint(self, path: str) -> None:
        self._s.setValue("checkpoint/last", path)

    @property
    def last_tokenizer(self) -> str | None:
        return self._s.value("checkpoint/tokenizer") or None

    @last_tokenizer.setter
    def last_tokenizer(self, path: str | None) -> None:
        self._s.setValue("checkpoint/tokenizer", path or "")

    @property
    def recent(self) -> list[str]:
        value = self._s.value("checkpoint/recent") or []
        return [value] if isinstance(value, str) else [str(v) for v in value]

    def add_recent(self, path: str) -> None:
        items = [path] + [p for p in self.recent if p != path]
        self._s.setValue("checkpoint/recent", items[:MAX_RECENT])

    @property
    def options(self) -> dict[str, Any]:
        out: dict[str, Any] = {
            k: _as_bool(self._s.value(f"recipe/{k}", v)) for k, v in DEFAULT_OPTIONS.items() if isinstance(v, bool)
        }
        out["exclude_layers"] = _as_blocks(self._s.value("recipe/exclude_layers", ""))
        return out

    @options.setter
    def options(self, options: dict[str, Any]) -> None:
        for key, default in DEFAULT_OPTIONS.items():
            if isinstance(default, bool):
                self._s.setValue(f"recipe/{key}", bool(options[key]))
        self._s.setValue("recipe/exclude_layers", ",".join(map(str, sorted(options["exclude_layers"]))))

    @property
    def run(self) -> dict[str, int]:
        out = {}
        for key, default in DEFAULT_RUN.items():
            try:
                out[key] = int(self._s.value(f"run/{key}", default))
            except (TypeError, ValueError):
                out[key] = default
        return out

    @run.setter
    def run(self, values: dict[str, int]) -> None:
        for key in DEFAULT_RUN:
            self._s.setValue(f"run/{key}", int(values[key]))
