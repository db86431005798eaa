"""An ONNX graph on ONNX Runtime behind the call the core makes of a ``GPT2LMHeadModel``.

``model(input_ids=..., logits_to_keep=1, use_cache=False).logits`` works the same on both runtimes, so the
comparison, the timing loop, the corpus evaluation and the continuation need no second copy. The graph has no
KV cache: a continuation step runs the whole sequence so far (:meth:`OrtCausalLM.new_kv_cache`).

One Threads setting governs both runtimes: a call runs on as many intra-op threads as torch is set to use
(``runner.torch_threads``). ONNX Runtime's threads keep spinning for a while after each run and slow whatever
runs next on the same cores; timing loops wait :data:`SETTLE_S` after each ONNX Runtime call (``settle_s``).
"""

from __future__ import annotations

import threading
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import numpy as np
import torch

from gpt2q_desktop.core.runtimes import Runtime

SETTLE_S = 0.08
"""Seconds ONNX Runtime's intra-op threads need to stop spinning after a run (55-60 ms median, 65-72 ms p90
measured here with ``tools/ort_spin.py``), waited before the next timed call of any model."""


@dataclass
class _Output:
    logits: torch.Tensor


class OrtCausalLM:
    """The graph at *path* (``logits = f(input_ids, positions)``), with an inference session per thread count in use."""

    runtime = Runtime.ONNXRUNTIME
    settle_s = SETTLE_S
    keep_alive: Any = None
    """A work folder holding the graph when the cache could not take it (removed with the model)."""

    def __init__(self, path: Path, config: Any) -> None:
        self.path = Path(path)
        self.config = config
        self._inference: Any = None
        self._threads = 0
        self._lock = threading.Lock()

    def inference_session(self, threads: int) -> Any:
        """The inference session with *threads* intra-op threads (made again only when the count changes)."""
        import onnxruntime as ort

        with self._lock:
            if self._inference is None or self._threads != threads:
                options = ort.SessionOptions()
                options.intra_op_num_threads = threads
                options.inter_op_num_threads = 1
                options.execution_mode = ort.ExecutionMode.ORT_SEQUENTIAL
                options.log_severity_level = 3
                self._inference = None  # free the old one before building the new one
                self._inference = ort.InferenceSession(str(self.path), options, providers=["CPUExecutionProvider"])
                self._threads = threads
            return self._inference

    def check(self) -> None:
        """Load the graph into an inference session (kept for the next calls on as many threads) and run it on one
        token: a graph ONNX Runtime cannot read (not a graph, external data outside its folder...) or of another
        model's vocabulary raises here, when it is taken from the cache, not in the middle of a run."""
        logits = self.logits(torch.zeros(1, 1, dtype=torch.long), torch.zeros(1, dtype=torch.long))
        vocab = getattr(self.config, "vocab_size", None)
        if tuple(logits.shape) != (1, 1, vocab):
            raise ValueError(f"its logits for one token are {list(logits.shape)}, not [1, 1, {vocab}]")

    def logits(self, ids: torch.Tensor, positions: torch.Tensor) -> torch.Tensor:
        """The logits [1, len(positions), vocab] at *positions* of the token ids *ids* [1, seq]."""
        feed = {"input_ids": ids.numpy().astype(np.int64), "positions": positions.numpy().astype(np.int64)}
        (out,) = self.inference_session(torch.get_num_threads()).run(None, feed)
        return torch.from_numpy(out)

    def __call__(self, input_ids: torch.Tensor, logits_to_keep: int = 0, use_cache: bool = False, **kw: Any) -> _Output:
        """As ``GPT2LMHeadModel``: the last *logits_to_keep* positions' logits (0: all); with a history from
        :meth:`new_kv_cache` passed as ``cache``/``past_key_values``, *input_ids* are appended to it first."""
        history = kw.get("cache", kw.get("past_key_values"))
        if isinstance(history, _History):
            history.ids = torch.cat([history.ids, input_ids], dim=1) if history.ids is not None else input_ids
            input_ids = history.ids
        seq = int(input_ids.shape[1])
        keep = seq if logits_to_keep <= 0 else min(logits_to_keep, seq)
        return _Output(self.logits(input_ids, torch.arange(seq - keep, seq)))

    def new_kv_cache(self) -> _History:
        """The tokens fed so far (the graph keeps no KV cache: each step runs the whole sequence)."""
        return _History()

    def file_bytes(self) -> int:
        return self.path.stat().st_size


class _History:
    ids: torch.Tensor | None = None
