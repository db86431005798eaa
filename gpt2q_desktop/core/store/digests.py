"""The digest index: sha256 of each weight file, remembered by (path, size, mtime) so a large checkpoint is hashed once."""

from __future__ import annotations

import json
import os
from pathlib import Path
from typing import Any

from gpt2q_desktop.core.checkpoints.checkpoint import CheckpointInfo, weight_files_digest_input
from gpt2q_desktop.core.errors import CheckpointError, reason_of
from gpt2q_desktop.core.files import file_problem, is_regular_file, read_json
from gpt2q_desktop.core.store.durable import atomic_write_text, sha256_of
from gpt2q_desktop.core.store.manifest import SHA256_HEX

_INDEX_CHARS = 1 << 24


class DigestIndex:
    """``<data dir>/file-digests.json``: a best-effort memo of weight-file digests (never trusted for a checksum)."""

    def __init__(self, data_dir: Path) -> None:
        self.data_dir = data_dir
        self.path = data_dir / "file-digests.json"

    def digest(self, path: Path) -> str:
        """sha256 of a weight file, remembered by (path, size, mtime) so a large checkpoint is hashed once."""
        index = self._read()
        try:
            st = path.stat()
            stamp = f"{path.resolve()}|{st.st_size}|{st.st_mtime_ns}"
            known = index.get(stamp)
            if isinstance(known, str) and SHA256_HEX.fullmatch(known):
                return known
            digest = sha256_of(path)
        except OSError as exc:
            problem = file_problem(path) or f"cannot be read ({reason_of(exc)})"
            raise CheckpointError(f"The weight file {path} {problem}.") from exc
        index[stamp] = digest
        self._write(index)
        return digest

    def of(self, info: CheckpointInfo) -> list[tuple[str, str]]:
        """(name, sha256) of the files whose bytes identify the checkpoint (config first)."""
        return [(name, self.digest(path)) for name, path in weight_files_digest_input(info)]

    def _read(self) -> dict[str, Any]:
        """The remembered digests; an unreadable, malformed or non-regular index counts as empty."""
        try:
            index = read_json(self.path, _INDEX_CHARS)
        except (OSError, ValueError):
            return {}
        return index if isinstance(index, dict) else {}

    def _write(self, index: dict[str, Any]) -> None:
        """Best effort (remembering digests is an optimisation only); a special file in its place is left alone."""
        if os.path.lexists(self.path) and not is_regular_file(self.path):
            return
        try:
            self.data_dir.mkdir(parents=True, exist_ok=True)
            atomic_write_text(self.path, json.dumps(index))
        except OSError:
            pass
