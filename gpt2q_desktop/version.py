"""The app's version, read from the installed package metadata (pyproject.toml)."""

from importlib import metadata

try:
    __version__ = metadata.version("gpt2q-desktop")
except metadata.PackageNotFoundError:  # running from a source tree that was not installed
    __version__ = "0.1.0"
