"""A content-keyed store of quantized models in the user data directory: ``<data dir>/cache/<key>/`` holds one
payload, ``weights.safetensors`` (the torch recipe's tensors, no pickle) or ``model.onnx`` (an ONNX Runtime graph),
and ``manifest.json``. The key hashes the checkpoint's config and weights, the recipe, its options and the library
versions (and the INT8 kernels of a torch entry).

Writes are atomic (assembled in a ``.tmp-*`` folder, fsync-ed, renamed into place): a crash, a full disk or a
cancel never leaves half an entry. A corrupt or foreign entry (checksum, manifest, layout) is never loaded; one
that cannot be loaded whole (:meth:`QuantCache.take`) is deleted too. Only regular files are opened."""

from __future__ import annotations

import contextlib
import hashlib
import json
import logging
import os
import shutil
import tempfile
import time
from collections.abc import Callable
from pathlib import Path
from typing import Any, TypeVar

from gpt2q_desktop.core.checkpoints.checkpoint import CheckpointInfo
from gpt2q_desktop.core.errors import CacheError, Gpt2qError, reason_of
from gpt2q_desktop.core.files import file_problem, open_regular, read_json
from gpt2q_desktop.core.paths import data_dir
from gpt2q_desktop.core.sizes import mb
from gpt2q_desktop.core.store.digests import DigestIndex
from gpt2q_desktop.core.store.durable import (
    TMP_PREFIX,
    atomic_write_text,
    deletion_problem,
    fsync_dir,
    link_target,
    pid_alive,
    remove_folder,
    remove_path,
    replace_retrying,
    sha256_of,
)
from gpt2q_desktop.core.store.manifest import CACHE_FORMAT, CacheEntry, CorruptEntry, manifest_problem
from gpt2q_desktop.core.text import counted

log = logging.getLogger("gpt2q")
WEIGHTS = "weights.safetensors"
MANIFEST = "manifest.json"
_MANIFEST_CHARS = 1 << 22
_T = TypeVar("_T")


def _cause(exc: CacheError) -> str:
    """The reason behind a failed deletion, without the sentence around it."""
    return deletion_problem(exc.__cause__) if exc.__cause__ is not None else str(exc)


class QuantCache:
    """The store under ``<data dir>/cache``."""

    def __init__(self, root: Path | None = None) -> None:
        self.data_dir = root if root is not None else data_dir()
        self.root = self.data_dir / "cache"
        self.digests = DigestIndex(self.data_dir)

    # -- keys -----------------------------------------------------------------------------------
    def key_for(
        self, info: CheckpointInfo, options: dict[str, Any], recipe: str, versions: dict[str, str] | None = None,
        kernels: str | None = None,
    ) -> str:  # fmt: skip
        """The entry key of *recipe* with *options* on *info*'s weights; *versions* adds the libraries
        (beyond torch) whose output the entry is, *kernels* the INT8 kernels it is built for (a model made for
        fbgemm is never served to a qnnpack run)."""
        import torch

        parts: dict[str, Any] = {
            "format": CACHE_FORMAT,
            "files": self.digests.of(info),
            "options": options,
            "backend": recipe,  # the key's name is kept, so that existing entries stay valid
            "torch": torch.__version__,
        }
        if versions:
            parts["versions"] = versions
        if kernels:
            parts["kernels"] = kernels
        return hashlib.sha256(json.dumps(parts, sort_keys=True).encode()).hexdigest()[:32]

    # -- reading --------------------------------------------------------------------------------
    def entry_path(self, key: str) -> Path:
        return self.root / key

    def has(self, key: str) -> bool:
        """True when there is an entry *key* to take (or to report as unusable: a symbolic link in its place)."""
        path = self.entry_path(key)
        return path.is_symlink() or (path / MANIFEST).is_file()

    def manifest(self, key: str) -> dict[str, Any]:
        """The entry's manifest, every field checked; :class:`CorruptEntry` if it is unreadable or unsound, or the
        entry's folder is a symbolic link (what it points to is not the cache's)."""
        target = link_target(self.entry_path(key))
        if target is not None:
            raise CorruptEntry(key, f"its folder is a symbolic link to {target}, which the cache does not follow")
        try:
            manifest = read_json(self.entry_path(key) / MANIFEST, _MANIFEST_CHARS)
        except (OSError, ValueError) as exc:
            raise CorruptEntry(key, f"unreadable manifest ({reason_of(exc)})") from exc
        problem = manifest_problem(manifest, key)
        if problem is not None:
            raise CorruptEntry(key, problem)
        return manifest

    def payload(self, key: str) -> tuple[dict[str, Any], Path]:
        """The verified manifest of an entry and its payload file (size and checksum checked);
        :class:`CorruptEntry` if anything is off."""
        manifest = self.manifest(key)
        path = self.entry_path(key) / manifest.get("payload", WEIGHTS)
        problem = file_problem(path)
        if problem is not None:
            raise CorruptEntry(key, f"weights file {problem}")
        try:
            if path.stat().st_size != manifest["weights_bytes"]:
                raise CorruptEntry(key, "weights file of the wrong size")
            if sha256_of(path) != manifest["weights_sha256"]:
                raise CorruptEntry(key, "weights checksum mismatch")
        except OSError as exc:
            raise CorruptEntry(key, f"unreadable weights ({reason_of(exc)})") from exc
        return manifest, path

    def load_tensors(self, key: str) -> tuple[dict[str, Any], dict[str, Any]]:
        """The verified manifest and tensors of an entry (read, not mapped: Windows cannot delete a mapped file)."""
        from safetensors.torch import load

        manifest, weights = self.payload(key)
        try:
            with open_regular(weights) as fh:
                tensors = load(fh.read())
        except Exception as exc:
            raise CorruptEntry(key, f"unreadable weights ({reason_of(exc)})") from exc
        return manifest, tensors

    def entries(self) -> list[CacheEntry]:
        """Every complete entry, newest first; corrupt ones are listed with a placeholder manifest and a problem."""
        if not self.root.is_dir():
            return []
        try:
            paths = list(self.root.iterdir())
        except OSError as exc:
            raise CacheError(f"Cannot list the cache folder {self.root} ({reason_of(exc)}).") from exc
        out = []
        for path in paths:
            if not (path.is_dir() or path.is_symlink()) or path.name.startswith(TMP_PREFIX):
                continue
            try:
                out.append(CacheEntry(path.name, path, self.manifest(path.name)))
            except CorruptEntry as exc:
                name = "(symbolic link)" if path.is_symlink() else "(corrupt entry)"
                out.append(CacheEntry(path.name, path, {"source": {"name": name}}, exc.reason))
        return sorted(out, key=lambda e: e.created, reverse=True)

    def total_bytes(self) -> int:
        return sum(e.bytes for e in self.entries())

    # -- writing --------------------------------------------------------------------------------
    def store(self, key: str, tensors: dict[str, Any], manifest: dict[str, Any]) -> CacheEntry:
        """Write an entry of *tensors* (a safetensors file) atomically, as :meth:`store_file`."""
        from safetensors.torch import save_file

        return self.store_file(key, manifest, lambda path: save_file(tensors, str(path)))

    def store_file(
        self, key: str, manifest: dict[str, Any], write: Callable[[Path], None], payload: str = WEIGHTS
    ) -> CacheEntry:
        """Write an entry atomically: ``write(path)`` makes its payload file *payload*; any failure of the writer
        (full disk, a library error...) raises :class:`CacheError` and leaves nothing; a cancel or interrupt
        propagates, also leaving nothing."""
        self.sweep()
        try:
            self.root.mkdir(parents=True, exist_ok=True)
            tmp = Path(tempfile.mkdtemp(dir=self.root, prefix=f"{TMP_PREFIX}{os.getpid()}-"))
        except OSError as exc:
            raise CacheError(f"Cannot create the cache folder {self.root}: {reason_of(exc)}.") from exc
        try:
            weights = tmp / payload
            write(weights)
            with weights.open("rb+") as fh:
                os.fsync(fh.fileno())
            full = dict(manifest)
            full.update(
                format=CACHE_FORMAT,
                key=key,
                created=time.time(),
                weights_bytes=weights.stat().st_size,
                weights_sha256=sha256_of(weights),
            )
            if payload != WEIGHTS:
                full["payload"] = payload
            atomic_write_text(tmp / MANIFEST, json.dumps(full, indent=2, sort_keys=True))
            fsync_dir(tmp)
            final = self.entry_path(key)
            remove_path(final)
            replace_retrying(tmp, final)
            fsync_dir(self.root)
        except BaseException as exc:
            shutil.rmtree(tmp, ignore_errors=True)
            if isinstance(exc, Exception) and not isinstance(exc, Gpt2qError):
                message = f"Could not save the model to the cache ({reason_of(exc)}); nothing was left behind."
                raise CacheError(message) from exc
            raise
        log.info("Cache entry written: %s (%s)", final, mb(full["weights_bytes"]))
        return CacheEntry(key, final, full)

    def delete(self, key: str) -> bool:
        """Delete the entry *key*: its folder, or only the link when a symbolic link stands in its place (its target is
        not the cache's and is left alone); True if it was a link. :class:`CacheError` if it cannot be deleted."""
        path = self.entry_path(key)
        link = path.is_symlink()
        if path.parent != self.root or not (link or path.is_dir()):
            raise CacheError(f"No cache entry {key!r}.")
        try:
            if link:
                path.unlink()
            else:
                remove_folder(path, last=MANIFEST)  # a file Windows will not delete leaves the entry whole
        except OSError as exc:
            problem = deletion_problem(exc)  # the callers name the entry
            raise CacheError(f"The cache entry could not be deleted ({problem}).") from exc
        return link

    def take(self, key: str, what: str, load: Callable[[], _T], notes: list[str], cannot: str) -> _T | None:
        """What ``load()`` makes of the entry *key* (which holds *what*), or None when there is no such entry or it
        is unusable. Any failure of *load* is the entry's: a :class:`CorruptEntry`, or whatever a library raises on
        a tampered entry whose checksum matches (*cannot* says what failed); it is noted, deleted and None returned
        (the caller rebuilds), never a traceback. MemoryError and this tool's own errors (a cancel, INT8 kernels
        this machine lacks) say nothing about the entry: they propagate and the entry stays."""
        if not self.has(key):
            return None
        try:
            return load()
        except CorruptEntry as exc:
            reason = exc.reason
        except Exception as exc:
            if isinstance(exc, (MemoryError, Gpt2qError)):
                raise
            text = reason_of(exc).replace(f"{self.entry_path(key)}{os.sep}", "")  # the note names the entry once
            reason = f"{cannot}: {type(exc).__name__}: {text if len(text) <= 200 else text[:199] + '…'}"
        self.discard(key, what, reason, notes)
        return None

    def discard(self, key: str, what: str, reason: str, notes: list[str]) -> None:
        """Delete the unusable entry *key* (*what* it held, *reason* it is unusable) and say in one note what became
        of it: deleted, its link removed, or left where it is because it could not be deleted (the caller rebuilds
        either way)."""
        said = f"The cached {what} {key} was unusable ({reason})"
        try:
            link = self.delete(key)
        except CacheError as exc:
            notes.append(f"{said} and could not be deleted ({_cause(exc)}); the model was rebuilt.")
            return
        if link:
            notes.append(f"{said}; the link was removed (its target left alone) and the model rebuilt.")
        else:
            notes.append(f"{said}; it was deleted and rebuilt.")

    def clear(self, notes: list[str] | None = None) -> int:
        """Delete every entry (and any leftover temporary folder); returns how many entry folders were deleted. A
        symbolic link in an entry's place is removed without touching its target, and an entry that cannot be
        deleted stays: each is said in *notes*, not counted."""
        deleted, said = 0, [] if notes is None else notes
        for entry in self.entries():
            target = link_target(entry.path)
            try:
                self.delete(entry.key)
            except CacheError as exc:
                said.append(f"The cache entry {entry.key} could not be deleted ({_cause(exc)}); it stays.")
                continue
            if target is None:
                deleted += 1
            else:
                said.append(
                    f"The cache entry {entry.key} was a symbolic link to {target}: the link was removed, its target "
                    "left alone."
                )
        self.sweep(force=True)
        log.info("Cache cleared: %s deleted%s", counted(deleted, "entry", "entries"), "".join(f"; {n}" for n in said))
        return deleted

    def sweep(self, force: bool = False) -> None:
        """Remove temporary folders left by a crashed writer (those whose process is gone)."""
        if not self.root.is_dir():
            return
        for path in self.root.glob(f"{TMP_PREFIX}*"):
            pid_text = path.name[len(TMP_PREFIX):].split("-", 1)[0]
            alive = pid_text.isdigit() and pid_alive(int(pid_text))
            if force or not alive:
                if path.is_dir() and not path.is_symlink():
                    shutil.rmtree(path, ignore_errors=True)
                else:
                    with contextlib.suppress(OSError):
                        path.unlink()
