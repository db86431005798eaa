"""A cache entry's ``manifest.json`` read as untrusted input (only regular files, bounded size, every field the
code reads checked for type and range: a tampered manifest is refused, never crashes a run), and the entry it
describes."""

from __future__ import annotations

import math
import re
import stat
from dataclasses import dataclass
from pathlib import Path
from typing import Any

from gpt2q_desktop.core.checkpoints.config import finite_number
from gpt2q_desktop.core.errors import CacheError
from gpt2q_desktop.core.options import RecipeOptions
from gpt2q_desktop.core.runtimes import Kernels, Runtime, runtime_label

CACHE_FORMAT = 1
LAYOUT_LISTS = ("quantized_linears", "int8_embeddings")
LAYOUT_FLAGS = ("lm_head_shares_wte", "lm_head_tied_fp32")
ONNX_PAYLOAD = "model.onnx"
ONNX_GRAPH_FORMAT = 2
"""The ONNX graphs' interface, in their cache key and manifest: 1 had no KV cache (``logits = f(input_ids,
positions)``); 2 is one generation step with the past per block (``ort.step``). Another format is rebuilt."""
ONNX_COUNTS = ("layers_quantized", "layers_eligible", "embeddings_int8")
SHA256_HEX = re.compile(r"[0-9a-f]{64}")
_LATEST = 253402300799.0  # 9999-12-31: later timestamps overflow date formatting


def _is_int(value: Any) -> bool:
    return isinstance(value, int) and not isinstance(value, bool)


def _layout_problem(layout: Any) -> str | None:
    if not isinstance(layout, dict):
        return "layout is not an object"
    for name in LAYOUT_LISTS:
        names = layout.get(name)
        if not isinstance(names, list) or not all(isinstance(n, str) and n for n in names):
            return f"layout.{name} is not a list of module names"
    for name in LAYOUT_FLAGS:
        if not isinstance(layout.get(name), bool):
            return f"layout.{name} is not true or false"
    return None


def _options_problem(options: Any) -> str | None:
    """None when *options* are exactly what :class:`RecipeOptions` writes (so every reader can parse them)."""
    try:
        sound = isinstance(options, dict) and RecipeOptions.from_dict(options).as_dict() == options
    except (TypeError, ValueError, ArithmeticError):  # ArithmeticError: int(Infinity) in exclude_layers
        sound = False
    return None if sound else "options are not recipe options"


def manifest_problem(manifest: Any, key: str) -> str | None:
    """None when *manifest* is a sound manifest of the entry *key*; otherwise what is wrong, in words."""
    if not isinstance(manifest, dict):
        return "manifest is not a JSON object"
    if not _is_int(manifest.get("format")) or manifest["format"] != CACHE_FORMAT or manifest.get("key") != key:
        return "manifest does not belong to this entry or version"
    for name in ("fp32_bytes", "weights_bytes"):
        if not _is_int(manifest.get(name)) or manifest[name] < 0:
            return f"{name} is not a byte count"
    for name, latest in (("quantize_seconds", math.inf), ("created", _LATEST)):
        if not finite_number(manifest.get(name)) or not 0 <= manifest[name] <= latest:
            return f"{name} is not a valid number of seconds"
    sha = manifest.get("weights_sha256")
    if not isinstance(sha, str) or not SHA256_HEX.fullmatch(sha):
        return "weights_sha256 is not a sha256 digest"
    for name in ("source", "config"):
        if not isinstance(manifest.get(name), dict):
            return f"{name} is not an object"
    if not all(isinstance(manifest["source"].get(name), str) for name in ("name", "path")):
        return "source name or path is not text"
    if not (isinstance(manifest.get("backend"), str) and isinstance(manifest.get("torch"), str)):
        return "backend or torch version is not text"
    if manifest.get("runtime", Runtime.TORCH) == Runtime.ONNXRUNTIME:
        return _onnx_problem(manifest)
    if "payload" in manifest:
        return "payload is not the torch weights file"
    if manifest.get("kernels") not in (None, *(k.value for k in Kernels)):
        return "kernels are not INT8 kernels gpt2q knows"
    return _options_problem(manifest.get("options")) or _layout_problem(manifest.get("layout"))


def _onnx_problem(manifest: dict[str, Any]) -> str | None:
    """None when an ONNX Runtime entry's own fields are sound: its graph kind, file and counts."""
    if manifest.get("payload") != ONNX_PAYLOAD:
        return f"payload is not {ONNX_PAYLOAD}"
    versions = manifest.get("versions")
    readable = isinstance(versions, dict) and isinstance(versions.get("onnx"), str)
    if not (readable and isinstance(versions.get("onnxruntime"), str)):
        return "onnx or onnxruntime version is not text"
    graph_format = manifest.get("graph_format", 1)
    if not _is_int(graph_format) or graph_format != ONNX_GRAPH_FORMAT:
        return f"its graph format {graph_format!r} is not this version's ({ONNX_GRAPH_FORMAT})"
    if manifest.get("graph") == "fp32":
        return None if manifest.get("options") == {} else "options of an FP32 graph are not empty"
    if manifest.get("graph") != "int8":
        return "graph is neither fp32 nor int8"
    counts = manifest.get("counts")
    if not isinstance(counts, dict) or not all(_is_int(counts.get(n)) and counts[n] >= 0 for n in ONNX_COUNTS):
        return "counts are not layer counts"
    return _options_problem(manifest.get("options"))


class CorruptEntry(CacheError):
    """A cache entry that must not be loaded; it is deleted and rebuilt. *reason* says why, without the key."""

    def __init__(self, key: str, reason: str) -> None:
        super().__init__(f"cache entry {key}: {reason}")
        self.key, self.reason = key, reason


@dataclass(frozen=True)
class CacheEntry:
    """One stored quantized model, as its manifest describes it; *problem* says why a corrupt one is unusable."""

    key: str
    path: Path
    manifest: dict[str, Any]
    problem: str | None = None

    @property
    def bytes(self) -> int:
        """The size of the entry's regular files (those that vanish or cannot be read count 0; a symbolic link in an
        entry's place holds none of the cache's)."""
        if self.path.is_symlink():
            return 0
        try:
            files = list(self.path.iterdir())
        except OSError:
            return 0
        total = 0
        for f in files:
            try:
                st = f.stat()
            except OSError:
                continue
            total += st.st_size if stat.S_ISREG(st.st_mode) else 0
        return total

    def _source(self) -> dict[str, Any]:
        source = self.manifest.get("source")
        return source if isinstance(source, dict) else {}

    @property
    def source_name(self) -> str:
        return str(self._source().get("name", "?"))

    @property
    def source_path(self) -> str:
        return str(self._source().get("path", "?"))

    @property
    def runtime(self) -> Runtime:
        """Where the entry's model runs (PyTorch when the manifest does not say, as in entries made before)."""
        try:
            return Runtime(self.manifest.get("runtime", Runtime.TORCH))
        except ValueError:
            return Runtime.TORCH

    @property
    def kernels(self) -> Kernels | None:
        """The INT8 kernels a PyTorch entry is built for; None for an ONNX Runtime graph or an entry made before
        they were recorded."""
        kernels = self.manifest.get("kernels")
        known = isinstance(kernels, str) and kernels in {k.value for k in Kernels}
        return Kernels(kernels) if known and self.runtime is Runtime.TORCH else None

    @property
    def graph(self) -> str | None:
        """``fp32`` or ``int8`` for an ONNX Runtime graph; None for a PyTorch entry."""
        graph = self.manifest.get("graph")
        return graph if self.runtime is Runtime.ONNXRUNTIME and isinstance(graph, str) else None

    def contents(self) -> str:
        """What the entry holds, without its runtime: the FP32 graph, or INT8 with its recipe options."""
        if self.graph == "fp32":
            return "FP32 graph"
        options = self.manifest.get("options")
        return "INT8: " + (RecipeOptions.from_dict(options).describe() if isinstance(options, dict) else "?")

    def describe(self) -> str:
        """What the entry holds, in words: its runtime, graph and recipe (or the problem that makes it unusable)."""
        return f"unusable: {self.problem}" if self.problem else f"{runtime_label(self.runtime, self.kernels)} {self.contents()}"

    @property
    def created(self) -> float:
        value = self.manifest.get("created")
        return float(value) if finite_number(value) else 0.0

    def as_dict(self) -> dict[str, Any]:
        return {
            "key": self.key,
            "path": str(self.path),
            "bytes": self.bytes,
            "source": self.source_name,
            "source_path": self.source_path,
            "options": self.manifest.get("options", {}),
            "recipe": self.manifest.get("backend"),
            "runtime": self.runtime,
            "kernels": self.kernels,
            "graph": self.graph,
            "torch": self.manifest.get("torch"),
            "created": self.created,
            "problem": self.problem,
        }
