"""A content-keyed store of quantized models in the user data directory.

Each entry is a folder ``<data dir>/cache/<key>/`` holding ``weights.safetensors`` (INT8 and FP32
tensors, no pickle) and ``manifest.json`` (source, options, layout, checksums, figures). The key hashes
the checkpoint's config and weight bytes, the recipe options, the recipe's name and the torch version.

Writes are atomic: an entry is assembled in a ``.tmp-*`` folder, every file fsync-ed, then renamed into
place, so a crash, a full disk or a cancel never leaves half an entry where a whole one is expected.
A corrupt or foreign entry is detected before use (checksum, manifest, layout) and never loaded.
"""

from __future__ import annotations

import hashlib
import json
import os
import shutil
import tempfile
import time
from dataclasses import dataclass
from pathlib import Path
from typing import Any

from .checkpoint import CheckpointInfo, weight_files_digest_input
from .errors import CacheError
from .paths import data_dir

CACHE_FORMAT = 1
WEIGHTS = "weights.safetensors"
MANIFEST = "manifest.json"
_TMP_PREFIX = ".tmp-"


class CorruptEntry(CacheError):
    """A cache entry that must not be loaded; it is deleted and rebuilt."""


@dataclass(frozen=True)
class CacheEntry:
    """One stored quantized model, as its manifest describes it."""

    key: str
    path: Path
    manifest: dict[str, Any]

    @property
    def bytes(self) -> int:
        return sum(f.stat().st_size for f in self.path.iterdir() if f.is_file())

    @property
    def source_name(self) -> str:
        return str(self.manifest.get("source", {}).get("name", "?"))

    @property
    def source_path(self) -> str:
        return str(self.manifest.get("source", {}).get("path", "?"))

    @property
    def created(self) -> float:
        return float(self.manifest.get("created", 0.0))

    def as_dict(self) -> dict[str, Any]:
        return {
            "key": self.key,
            "path": str(self.path),
            "bytes": self.bytes,
            "source": self.source_name,
            "source_path": self.source_path,
            "options": self.manifest.get("options", {}),
            "backend": self.manifest.get("backend"),
            "torch": self.manifest.get("torch"),
            "created": self.created,
        }


def _sha256(path: Path) -> str:
    digest = hashlib.sha256()
    with path.open("rb") as fh:
        for chunk in iter(lambda: fh.read(1 << 22), b""):
            digest.update(chunk)
    return digest.hexdigest()


def _fsync_dir(path: Path) -> None:
    try:
        fd = os.open(path, os.O_RDONLY)
    except OSError:
        return
    try:
        os.fsync(fd)
    except OSError:
        pass
    finally:
        os.close(fd)


class QuantCache:
    """The store under ``<data dir>/cache``."""

    def __init__(self, root: Path | None = None) -> None:
        self.data_dir = root if root is not None else data_dir()
        self.root = self.data_dir / "cache"
        self._digest_index = self.data_dir / "file-digests.json"

    # -- keys -----------------------------------------------------------------------------------
    def file_digest(self, path: Path) -> str:
        """sha256 of a file, remembered by (path, size, mtime) so a large checkpoint is hashed once."""
        st = path.stat()
        stamp = f"{path.resolve()}|{st.st_size}|{st.st_mtime_ns}"
        try:
            index = json.loads(self._digest_index.read_text(encoding="utf-8"))
            if not isinstance(index, dict):
                index = {}
        except (OSError, ValueError):
            index = {}
        if stamp in index:
            return str(index[stamp])
        digest = _sha256(path)
        index[stamp] = digest
        try:
            self.data_dir.mkdir(parents=True, exist_ok=True)
            self._atomic_write_text(self._digest_index, json.dumps(index))
        except OSError:
            pass  # remembering digests is an optimisation only
        return digest

    def key_for(self, info: CheckpointInfo, options: dict[str, Any], recipe: str) -> str:
        import torch

        parts = {
            "format": CACHE_FORMAT,
            "files": [(name, self.file_digest(p)) for name, p in weight_files_digest_input(info)],
            "options": options,
            "backend": recipe,  # the key's name is kept, so that existing entries stay valid
            "torch": torch.__version__,
        }
        return hashlib.sha256(json.dumps(parts, sort_keys=True).encode()).hexdigest()[:32]

    # -- reading --------------------------------------------------------------------------------
    def entry_path(self, key: str) -> Path:
        return self.root / key

    def has(self, key: str) -> bool:
        return (self.entry_path(key) / MANIFEST).is_file()

    def manifest(self, key: str) -> dict[str, Any]:
        path = self.entry_path(key) / MANIFEST
        try:
            manifest = json.loads(path.read_text(encoding="utf-8"))
        except (OSError, ValueError) as exc:
            raise CorruptEntry(f"cache entry {key}: unreadable manifest ({exc})") from exc
        if not isinstance(manifest, dict) or manifest.get("format") != CACHE_FORMAT or manifest.get("key") != key:
            raise CorruptEntry(f"cache entry {key}: manifest does not belong to this entry or version")
        return manifest

    def load_tensors(self, key: str) -> tuple[dict[str, Any], dict[str, Any]]:
        """The verified manifest and tensors of an entry; :class:`CorruptEntry` if anything is off."""
        from safetensors.torch import load_file

        manifest = self.manifest(key)
        weights = self.entry_path(key) / WEIGHTS
        if not weights.is_file() or weights.stat().st_size != manifest.get("weights_bytes"):
            raise CorruptEntry(f"cache entry {key}: weights file missing or of the wrong size")
        if _sha256(weights) != manifest.get("weights_sha256"):
            raise CorruptEntry(f"cache entry {key}: weights checksum mismatch")
        try:
            tensors = load_file(str(weights))
        except Exception as exc:
            raise CorruptEntry(f"cache entry {key}: unreadable weights ({exc})") from exc
        return manifest, tensors

    def entries(self) -> list[CacheEntry]:
        """Every complete entry, newest first; unreadable ones are listed with an empty manifest."""
        if not self.root.is_dir():
            return []
        out = []
        for path in self.root.iterdir():
            if not path.is_dir() or path.name.startswith(_TMP_PREFIX):
                continue
            try:
                manifest = self.manifest(path.name)
            except CorruptEntry:
                manifest = {"source": {"name": "(corrupt entry)"}}
            out.append(CacheEntry(path.name, path, manifest))
        return sorted(out, key=lambda e: e.created, reverse=True)

    def total_bytes(self) -> int:
        return sum(e.bytes for e in self.entries())

    # -- writing --------------------------------------------------------------------------------
    @staticmethod
    def _atomic_write_text(path: Path, text: str) -> None:
        fd, tmp = tempfile.mkstemp(dir=path.parent, prefix=_TMP_PREFIX)
        try:
            with os.fdopen(fd, "w", encoding="utf-8") as fh:
                fh.write(text)
                fh.flush()
                os.fsync(fh.fileno())
            os.replace(tmp, path)
        except BaseException:
            Path(tmp).unlink(missing_ok=True)
            raise

    def store(self, key: str, tensors: dict[str, Any], manifest: dict[str, Any]) -> CacheEntry:
        """Write an entry atomically; raises :class:`CacheError` (and leaves nothing) on failure."""
        from safetensors.torch import save_file

        self.sweep()
        try:
            self.root.mkdir(parents=True, exist_ok=True)
            tmp = Path(tempfile.mkdtemp(dir=self.root, prefix=f"{_TMP_PREFIX}{os.getpid()}-"))
        except OSError as exc:
            raise CacheError(f"Cannot create the cache folder {self.root}: {exc.strerror or exc}.") from exc
        try:
            weights = tmp / WEIGHTS
            save_file(tensors, str(weights))
            with weights.open("rb+") as fh:
                os.fsync(fh.fileno())
            full = dict(manifest)
            full.update(
                format=CACHE_FORMAT,
                key=key,
                created=time.time(),
                weights_bytes=weights.stat().st_size,
                weights_sha256=_sha256(weights),
            )
            self._atomic_write_text(tmp / MANIFEST, json.dumps(full, indent=2, sort_keys=True))
            _fsync_dir(tmp)
            final = self.entry_path(key)
            if final.exists():
                shutil.rmtree(final)
            os.rename(tmp, final)
            _fsync_dir(self.root)
        except OSError as exc:
            shutil.rmtree(tmp, ignore_errors=True)
            reason = "the disk is full" if exc.errno == 28 else (exc.strerror or str(exc))
            raise CacheError(f"Could not save the INT8 model to the cache ({reason}); nothing was left behind.") from exc
        except BaseException:
            shutil.rmtree(tmp, ignore_errors=True)
            raise
        return CacheEntry(key, final, full)

    def delete(self, key: str) -> None:
        path = self.entry_path(key)
        if path.parent != self.root or not path.is_dir():
            raise CacheError(f"No cache entry {key!r}.")
        shutil.rmtree(path)

    def clear(self) -> int:
        """Delete every entry (and any leftover temporary folder); returns how many entries went."""
        entries = self.entries()
        for entry in entries:
            shutil.rmtree(entry.path, ignore_errors=True)
        self.sweep(force=True)
        return len(entries)

    def sweep(self, force: bool = False) -> None:
        """Remove temporary folders left by a crashed writer (those whose process is gone)."""
        if not self.root.is_dir():
            return
        for path in self.root.glob(f"{_TMP_PREFIX}*"):
            pid_text = path.name[len(_TMP_PREFIX):].split("-", 1)[0]
            alive = pid_text.isdigit() and _pid_alive(int(pid_text))
            if force or not alive:
                if path.is_dir():
                    shutil.rmtree(path, ignore_errors=True)
                else:
                    path.unlink(missing_ok=True)


def _pid_alive(pid: int) -> bool:
    try:
        os.kill(pid, 0)
    except ProcessLookupError:
        return False
    except PermissionError:
        return True
    return True
