"""An ONNX graph on ONNX Runtime behind the call the core makes of a ``GPT2LMHeadModel``.

``model(input_ids=..., logits_to_keep=1, use_cache=False).logits`` works the same on both runtimes, so the
comparison, the timing loop, the corpus evaluation and the continuation need no second copy. The graph is one
generation step with its KV cache (:mod:`ort.step`): with a cache from :meth:`OrtCausalLM.new_kv_cache` passed as
``cache``/``past_key_values``, only the new tokens are run, after the keys and values the cache holds.

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

from gpt2q_desktop.core.ort.step import IDS, POSITIONS, past_names
from gpt2q_desktop.core.runtimes import Runtime

SETTLE_S = 0.08
"""Seconds ONNX Runtime's intra-op threads need to stop spinning after a run (55-60 ms median, 65-72 ms p90
measured here with ``tools/ort_spin.py``), waited before the next timed call of any model."""


@dataclass
class _Output:
    logits: torch.Tensor


class OrtCausalLM:
    """The generation graph at *path*, with an inference session per thread count in use."""

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
        token: a graph ONNX Runtime cannot read (not a graph, external data outside its folder, of another interface
        or another model's vocabulary) raises here, when it is taken from the cache, not in the middle of a run."""
        logits, presents = self.run(np.zeros((1, 1), np.int64), np.zeros(1, np.int64), self.empty_past())
        vocab = getattr(self.config, "vocab_size", None)
        if tuple(logits.shape) != (1, 1, vocab):
            raise ValueError(f"its logits for one token are {list(logits.shape)}, not [1, 1, {vocab}]")
        want = (1, self.config.n_head, 1, self.config.n_embd // self.config.n_head)
        if len(presents) != 2 * self.config.n_layer or any(p.shape != want for p in presents):
            raise ValueError("its keys and values are not those of this model's blocks")

    def empty_past(self) -> list[np.ndarray]:
        """Each block's keys and values before the first token ([1, heads, 0, head_dim])."""
        c = self.config
        return [np.zeros((1, c.n_head, 0, c.n_embd // c.n_head), np.float32) for _ in range(2 * c.n_layer)]

    def run(
        self, ids: np.ndarray, positions: np.ndarray, past: list[np.ndarray]
    ) -> tuple[np.ndarray, list[np.ndarray]]:
        """The logits [1, len(positions), vocab] at *positions* of the new token ids *ids* [1, seq] (int64) after
        *past* (each block's keys and values), and the past grown by *ids*."""
        feed = {IDS: ids, POSITIONS: positions, **dict(zip(past_names(self.config.n_layer), past, strict=True))}
        logits, *presents = self.inference_session(torch.get_num_threads()).run(None, feed)
        return logits, presents

    def __call__(self, input_ids: torch.Tensor, logits_to_keep: int = 0, use_cache: bool = False, **kw: Any) -> _Output:
        """As ``GPT2LMHeadModel``: the last *logits_to_keep* positions' logits (0: all) of *input_ids*; with a KV
        cache from :meth:`new_kv_cache` passed as ``cache``/``past_key_values``, after what it holds (and grown)."""
        history = kw.get("cache", kw.get("past_key_values"))
        seq = int(input_ids.shape[1])
        keep = seq if logits_to_keep <= 0 else min(logits_to_keep, seq)
        positions = np.arange(seq - keep, seq, dtype=np.int64)
        ids = input_ids.numpy().astype(np.int64, copy=False)
        if not isinstance(history, OrtKVCache):
            return _Output(torch.from_numpy(self.run(ids, positions, self.empty_past())[0]))
        logits, history.past = self.run(ids, positions, history.past if history.past else self.empty_past())
        return _Output(torch.from_numpy(logits))

    def new_kv_cache(self) -> OrtKVCache:
        """An empty KV cache: each call that is given it runs only its new tokens, then keeps their keys and values."""
        return OrtKVCache()

    def file_bytes(self) -> int:
        return self.path.stat().st_size


class OrtKVCache:
    """Each block's keys and values so far (empty before the first call)."""

    def __init__(self) -> None:
        self.past: list[np.ndarray] = []
