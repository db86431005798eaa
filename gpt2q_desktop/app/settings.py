"""Remembered state (geometry, last checkpoint, recipe, runtime and run options, recent folders) in ``QSettings``.

Where: ``$GPT2Q_SETTINGS_FILE`` (an INI file; tests), else ``gpt2q-desktop.ini`` in ``$GPT2Q_CONFIG_DIR``, else in
``$GPT2Q_DATA_DIR`` when the data is moved there (so a second profile is whole), else the platform's config location.
"""

from __future__ import annotations

import logging
import os
from dataclasses import fields
from typing import Any

from PySide6.QtCore import QByteArray, QSettings

from gpt2q_desktop.core.logs import LOGGER
from gpt2q_desktop.core.options import RecipeOptions, RunSettings
from gpt2q_desktop.core.runtimes import Runtime

from .settings_check import MAX_RECENT, checked_values

log = logging.getLogger(LOGGER)
ENV_SETTINGS_FILE = "GPT2Q_SETTINGS_FILE"
ENV_CONFIG_DIR = "GPT2Q_CONFIG_DIR"
ORGANIZATION = "gpt2q"
APPLICATION = "gpt2q-desktop"

_RECIPE_FLAGS = ("per_channel", "keep_lm_head", "quantize_embeddings")
"""The recipe's yes/no options (the blocks kept in FP32 are stored as ``"0,3"``)."""


def _text(value: Any) -> str:
    """A value as the INI file stores it (``true``, ``3``, ``0,3``)."""
    if isinstance(value, bool):
        return str(value).lower()
    return ",".join(map(str, value)) if isinstance(value, tuple) else str(value)


def settings_file() -> str | None:
    """The INI file the environment asks for (see the module's docstring), or None: the platform's location."""
    from gpt2q_desktop.core.paths import ENV_DATA_DIR

    if os.environ.get(ENV_SETTINGS_FILE):
        return os.environ[ENV_SETTINGS_FILE]
    folder = os.environ.get(ENV_CONFIG_DIR) or os.environ.get(ENV_DATA_DIR)
    return os.path.join(os.path.expanduser(folder), f"{APPLICATION}.ini") if folder else None


class AppSettings:
    """Typed access to the few values the window remembers.

    Two windows open at once each write back only the options they changed since they read them, so closing one
    does not undo what the other changed; an option both changed ends as the last closed one left it, and the
    log says so."""

    def __init__(self) -> None:
        path = settings_file()
        if path:
            self._s = QSettings(path, QSettings.Format.IniFormat)
        else:
            self._s = QSettings(QSettings.Format.IniFormat, QSettings.Scope.UserScope, ORGANIZATION, APPLICATION)
        self._s.setFallbacksEnabled(False)  # this file alone: keys of other files are not this file's to drop
        self._values = checked_values(self._s)
        """Every value of the file that passed its check (the others are gone from the file, and logged)."""
        self._seen: dict[str, str] = {}
        """Each option as this window read it (as stored; the default where the file had none)."""

    def _read(self, key: str, default: Any) -> Any:
        value = self._values.get(key, default)
        self._seen.setdefault(key, _text(value))
        return value

    def _set(self, key: str, value: Any) -> None:
        self._s.setValue(key, value)
        self._values[key] = value

    def _write(self, values: dict[str, Any]) -> None:
        """Store the options of *values* that differ from what this window read; a change another window made
        meanwhile to an option this one left alone is kept."""
        changed = {key: _text(value) for key, value in values.items() if _text(value) != self._seen.get(key)}
        if not changed:
            return
        self._s.sync()  # what other windows wrote since
        for key, value in changed.items():
            now = self._s.value(key)
            if key in self._seen and now is not None and _text(now) not in (self._seen[key], value):
                log.info("settings: %s was changed in another window too (to %s); this window's %s is kept", key, now, value)
            self._s.setValue(key, value)
            self._values[key] = values[key]
            self._seen[key] = value

    def sync(self) -> None:
        self._s.sync()

    @property
    def geometry(self) -> QByteArray | None:
        return self._values.get("window/geometry")

    @geometry.setter
    def geometry(self, value: QByteArray) -> None:
        self._set("window/geometry", value)

    @property
    def splitters(self) -> list[QByteArray]:
        """The splitters' states, in the window's order (empty when none is remembered)."""
        return list(self._values.get("window/splitters", []))

    @splitters.setter
    def splitters(self, states: list[QByteArray]) -> None:
        self._set("window/splitters", states)

    @property
    def last_checkpoint(self) -> str | None:
        return self._values.get("checkpoint/last") or None

    @last_checkpoint.setter
    def last_checkpoint(self, path: str) -> None:
        self._set("checkpoint/last", path)

    @property
    def last_tokenizer(self) -> str | None:
        return self._values.get("checkpoint/tokenizer") or None

    @last_tokenizer.setter
    def last_tokenizer(self, path: str | None) -> None:
        self._set("checkpoint/tokenizer", path or "")

    @property
    def recent(self) -> list[str]:
        return list(self._values.get("checkpoint/recent", []))

    def add_recent(self, path: str) -> None:
        items = [path] + [p for p in self.recent if p != path]
        self._set("checkpoint/recent", items[:MAX_RECENT])

    @property
    def options(self) -> RecipeOptions:
        """The remembered recipe (the core's defaults where nothing is remembered)."""
        default = RecipeOptions()
        flags = {key: self._read(f"recipe/{key}", getattr(default, key)) for key in _RECIPE_FLAGS}
        return RecipeOptions(**flags, exclude_layers=self._read("recipe/exclude_layers", ()))

    @options.setter
    def options(self, options: RecipeOptions) -> None:
        values: dict[str, Any] = {f"recipe/{key}": getattr(options, key) for key in _RECIPE_FLAGS}
        self._write({**values, "recipe/exclude_layers": tuple(sorted(options.exclude_layers))})

    @property
    def run(self) -> RunSettings:
        """The remembered run settings (the core's default for each one missing or out of the window's range)."""
        default = RunSettings()
        return RunSettings(**{f.name: self._read(f"run/{f.name}", getattr(default, f.name)) for f in fields(RunSettings)})

    @run.setter
    def run(self, settings: RunSettings) -> None:
        self._write({f"run/{key}": int(value) for key, value in settings.as_dict().items()})

    @property
    def runtime(self) -> str:
        """The remembered Runtime choice (a key of ``RUNTIME_CHOICES``; PyTorch when missing or unknown)."""
        return self._read("run/runtime", Runtime.TORCH)

    @runtime.setter
    def runtime(self, choice: str) -> None:
        self._write({"run/runtime": choice})
