"""One opened checkpoint and everything a front end does with it: the pipeline, written once.

A :class:`Session` owns the checkpoint (inspected at once, loaded when first needed), its tokenizer, the
cache and the INT8 model of the current recipe. Its verbs (open, load, quantize, compare, continue,
evaluate, measure layer sensitivity) check their inputs before any long work, quantize when the INT8 model is missing
or stale, and report progress and honour cancel through plain callbacks. The CLI, the self-test, the
bench and the window's worker all go through it; none of them loads or quantizes a checkpoint itself.
"""

from __future__ import annotations

import logging
import time
from collections.abc import Callable, Iterator, Sequence
from pathlib import Path
from typing import TYPE_CHECKING, Any

from gpt2q_desktop.core.checkpoints.checkpoint import CheckpointInfo, Opened, inspect_checkpoint, load_inspected
from gpt2q_desktop.core.errors import Cancelled, CheckpointError, TokenizerError
from gpt2q_desktop.core.options import AUTO_THREADS, RecipeOptions, RunSettings
from gpt2q_desktop.core.runtimes import Kernels, Runtime, runtime_label
from gpt2q_desktop.core.text import counted

if TYPE_CHECKING:
    from torch import nn

    from gpt2q_desktop.core.checkpoints.checkpoint import LoadedCheckpoint
    from gpt2q_desktop.core.measure.continuation import ContinuationPair
    from gpt2q_desktop.core.measure.inference import EncodedPrompt
    from gpt2q_desktop.core.measure.quality import CorpusEval, LayerScore
    from gpt2q_desktop.core.ort.model import OrtCausalLM
    from gpt2q_desktop.core.progress import CancelFn, ProgressFn
    from gpt2q_desktop.core.results import ComparisonRow, QuantizeReport
    from gpt2q_desktop.core.store.model_cache import QuantCache
    from gpt2q_desktop.core.torch_int8.recipe import QuantizationRecipe

log = logging.getLogger("gpt2q")


class Session:
    """The checkpoint a front end works on, and the INT8 model of its current recipe."""

    def __init__(self, cache: QuantCache | None = None, recipe: QuantizationRecipe | None = None) -> None:
        self._cache = cache
        self._recipe = recipe
        self.info: CheckpointInfo | None = None
        self._loaded: LoadedCheckpoint | None = None
        self._int8: nn.Module | None = None
        self._int8_options: RecipeOptions | None = None
        self.kernels: Kernels | None = None
        """The INT8 kernels the current PyTorch INT8 model runs on (None until it exists)."""
        self._onnx: tuple[RecipeOptions, OrtCausalLM, OrtCausalLM] | None = None
        self.on_quantized: Callable[[QuantizeReport], None] | None = None
        """Called with the report each time a quantization (or a cache load) gives a new INT8 model."""

    # -- the checkpoint -------------------------------------------------------------------------
    def open(
        self, path: str | Path, tokenizer: str | Path | None = None, require_tokenizer: bool = False
    ) -> CheckpointInfo:
        """Forget the previous checkpoint, then check the folder at *path* (no weights are read yet)."""
        self.close()
        self.info = inspect_checkpoint(path, tokenizer, require_tokenizer)
        return self.info

    def load(self) -> Opened:
        """Load the FP32 model and the tokenizer now (they load on first use otherwise); if that fails, the
        session holds no checkpoint at all."""
        try:
            loaded = self._require_loaded()
        except BaseException:
            self.close()
            raise
        return Opened(loaded.info, loaded.label, list(loaded.notes))

    def close(self) -> None:
        """Hold no checkpoint (and no INT8 model) any more."""
        self.info, self._loaded, self._int8, self._int8_options, self._onnx, self.kernels = (None,) * 6

    @property
    def fp32(self) -> nn.Module:
        return self._require_loaded().model

    @property
    def tokenizer(self) -> Any:
        tokenizer = self._require_loaded().tokenizer
        if tokenizer is None:
            raise TokenizerError("This checkpoint has no tokenizer: choose a tokenizer folder first.")
        return tokenizer

    @property
    def n_positions(self) -> int:
        return self._require_info().n_positions

    def _require_info(self) -> CheckpointInfo:
        if self.info is None:
            raise CheckpointError("No checkpoint is loaded: open a checkpoint folder first.")
        return self.info

    def _require_loaded(self) -> LoadedCheckpoint:
        info = self._require_info()
        if self._loaded is None:
            start = time.perf_counter()
            self._loaded = load_inspected(info)
            log.info("Opened %s (loaded in %.1f s)", info.summary(), time.perf_counter() - start)
        return self._loaded

    # -- INT8 -----------------------------------------------------------------------------------
    def quantize(
        self, options: RecipeOptions, progress: ProgressFn | None = None, cancelled: CancelFn | None = None,
        runtime: str = Runtime.TORCH,
    ) -> QuantizeReport:  # fmt: skip
        """The INT8 model of *options* on *runtime*, from the cache or freshly made (and stored); it becomes
        current. On ONNX Runtime the FP32 graph is made (or found) too."""
        from gpt2q_desktop.core.store.model_cache import QuantCache

        info = self._require_info()
        cache = self._cache or QuantCache()
        log.info("Quantizing %s for %s: %s", info.name, runtime_label(runtime), options.describe())
        if runtime == Runtime.ONNXRUNTIME:
            from gpt2q_desktop.core.ort.pipeline import onnx_models

            fp32, int8, report = onnx_models(info, options, cache, progress, cancelled)
            self._onnx = (options, fp32, int8)
        else:
            from gpt2q_desktop.core.torch_int8.pipeline import DEFAULT_RECIPE, quantize_checkpoint

            model, report = quantize_checkpoint(
                info, options, lambda: self.fp32, cache, self._recipe or DEFAULT_RECIPE, progress, cancelled
            )
            self._int8, self._int8_options, self.kernels = model, options, report.kernels
        log.info("INT8 model ready: %s", report.summary())
        for note in report.notes:
            log.info("Note: %s", note)
        if self.on_quantized is not None:
            self.on_quantized(report)
        return report

    def pair(
        self, runtime: str, options: RecipeOptions, progress: ProgressFn | None = None, cancelled: CancelFn | None = None
    ) -> tuple[Any, Any]:
        """The FP32 and INT8 models of *options* on *runtime* (made or loaded when missing or stale)."""
        if runtime == Runtime.ONNXRUNTIME:
            if self._onnx is None or self._onnx[0] != options:
                self.quantize(options, progress, cancelled, Runtime.ONNXRUNTIME)
            assert self._onnx is not None
            return self._onnx[1], self._onnx[2]
        return self.fp32, self.int8(options, progress, cancelled)

    def export_model(
        self, out: Path, options: RecipeOptions, overwrite: bool = False,
        progress: ProgressFn | None = None, cancelled: CancelFn | None = None,
    ) -> Path:  # fmt: skip
        """Write the ONNX Runtime INT8 model of *options* to the folder *out*, ready to run without gpt2q
        (before any work, refused: a non-empty *out* unless *overwrite*, one inside the data folder or that cannot
        be written); returns *out*. The report goes to :attr:`on_quantized` as for any quantization."""
        from gpt2q_desktop.core.ort.takeaway import check_destination, write_takeaway
        from gpt2q_desktop.core.store.model_cache import QuantCache

        out, cache = Path(out), self._cache or QuantCache()
        check_destination(out, overwrite, (cache.data_dir, cache.root))
        tokenizer = self.tokenizer
        report = self.quantize(options, progress, cancelled, Runtime.ONNXRUNTIME)
        assert self._onnx is not None
        info = self._require_info()
        written = write_takeaway(out, self._onnx[2].path, info.config, tokenizer, info.name, report)
        log.info("INT8 model of %s (%s) exported to %s", info.name, options.describe(), written)
        return written

    @property
    def int8_model(self) -> nn.Module:
        """The current INT8 model (after :meth:`quantize`)."""
        if self._int8 is None:
            raise CheckpointError("Nothing is quantized yet: quantize the checkpoint first.")
        return self._int8

    def int8(
        self, options: RecipeOptions, progress: ProgressFn | None = None, cancelled: CancelFn | None = None
    ) -> nn.Module:
        """The INT8 model of *options*: the one in memory, or a fresh (or cached) quantization."""
        if self._int8 is None or self._int8_options != options:
            self.quantize(options, progress, cancelled)
        return self.int8_model

    # -- verbs ----------------------------------------------------------------------------------
    def encode(self, prompts: Sequence[str]) -> list[EncodedPrompt]:
        """Every prompt tokenized; an empty or untokenizable one is refused before any long work."""
        from gpt2q_desktop.core.measure.inference import encode_prompt

        tokenizer, n_positions = self.tokenizer, self.n_positions
        return [encode_prompt(tokenizer, text, n_positions) for text in prompts]

    def compare(
        self, prompts: Sequence[str], options: RecipeOptions, settings: RunSettings,
        progress: ProgressFn | None = None, cancelled: CancelFn | None = None, runtimes: Sequence[str] = (Runtime.TORCH,),
    ) -> Iterator[ComparisonRow]:  # fmt: skip
        """FP32 versus INT8 on each prompt, one row per prompt and runtime (prompts checked and every INT8
        model ready first; with several runtimes all models are timed interleaved)."""
        encoded = self.encode(prompts)
        pairs = [self.pair(runtime, options, progress, cancelled) for runtime in runtimes]
        context = {"checkpoint": self._require_info().name, "checkpoint_key": self.content_key(), "recipe": options.describe()}
        names = " and ".join(runtime_label(runtime) for runtime in runtimes)
        return self._rows(encoded, pairs, settings, context, names, progress, cancelled)

    def content_key(self) -> str:
        """The checkpoint's identity by content: its config and weight files' bytes, hashed (cached by stamp)."""
        import hashlib

        from gpt2q_desktop.core.store.model_cache import QuantCache

        files = (self._cache or QuantCache()).digests.of(self._require_info())
        return hashlib.sha256(repr(files).encode()).hexdigest()[:16]

    def _rows(
        self, encoded: list[EncodedPrompt], pairs: list[tuple[Any, Any]], settings: RunSettings,
        context: dict[str, str], runtimes: str, progress: ProgressFn | None, cancelled: CancelFn | None,
    ) -> Iterator[ComparisonRow]:  # fmt: skip
        """The rows one by one, each with *context* (checkpoint, recipe) and its time; the progress message gains
        an ETA once a few prompts have been timed. Once all are given, the log says so (*runtimes* in words)."""
        from dataclasses import replace

        from gpt2q_desktop.core.measure.compare import compare_encoded
        from gpt2q_desktop.core.text import time_left

        timed_before_eta = 3
        total, start = len(encoded), time.monotonic()
        for i, prompt in enumerate(encoded):
            if cancelled is not None and cancelled():
                raise Cancelled(f"Stopped after {i} of {total} prompts.")
            if progress is not None:
                eta = f", {time_left((time.monotonic() - start) / i * (total - i))}" if i >= timed_before_eta else ""
                progress(i, total, f"Running prompt {i + 1} of {total}{eta}")
            for row in compare_encoded(pairs, self.tokenizer, prompt, settings):
                kernels = self.kernels if row.runtime == Runtime.TORCH else None
                yield replace(row, time=time.time(), kernels=kernels, **context)
        log.info("Compared FP32 and INT8 on %s on %s (%s)", counted(total, "prompt"), runtimes, context["recipe"])
        if progress is not None:
            progress(total, total, "Done")

    def continue_prompt(
        self, prompt: str, n_tokens: int, temperature: float, seed: int, options: RecipeOptions,
        threads: int = AUTO_THREADS, progress: ProgressFn | None = None, cancelled: CancelFn | None = None,
        runtime: str = Runtime.TORCH,
    ) -> ContinuationPair:  # fmt: skip
        """Both models of *runtime* continue *prompt* (greedy when *temperature* is 0), timed on *threads*."""
        from gpt2q_desktop.core.measure.continuation import continuation_pair
        from gpt2q_desktop.core.measure.inference import default_threads

        self.encode([prompt])
        fp32, int8 = self.pair(runtime, options, progress, cancelled)
        if progress is not None:
            progress(0, 1, "Generating with both models")
        pair = continuation_pair(
            fp32, int8, self.tokenizer, prompt, n_tokens, self.n_positions, threads or default_threads(),
            temperature, seed, cancelled,
        )  # fmt: skip
        log.info("Continued a prompt with FP32 and INT8 on %s (%s)", runtime_label(runtime), counted(n_tokens, "token"))
        if progress is not None:
            progress(1, 1, "Done")
        return pair

    def evaluate(
        self, text: Path, max_tokens: int, options: RecipeOptions, threads: int = AUTO_THREADS,
        progress: ProgressFn | None = None, cancelled: CancelFn | None = None, runtime: str = Runtime.TORCH,
    ) -> CorpusEval:  # fmt: skip
        """FP32 versus INT8 of *runtime* over the text file *text* (its first *max_tokens* tokens)."""
        from gpt2q_desktop.core.measure.inference import default_threads, torch_threads
        from gpt2q_desktop.core.measure.quality import checked_chunks, evaluate_text

        chunks = checked_chunks(text)
        tokenizer = self.tokenizer
        fp32, int8 = self.pair(runtime, options, progress, cancelled)
        with torch_threads(threads or default_threads()):
            result = evaluate_text(
                fp32, int8, tokenizer, chunks, self.n_positions, max_tokens, progress=progress, cancelled=cancelled
            )
        log.info("Evaluated %s on %s (%s): %s", text.name, runtime_label(runtime), options.describe(), result.summary())
        return result

    def sensitivity(
        self, text: Path, max_tokens: int, options: RecipeOptions, threads: int = AUTO_THREADS,
        progress: ProgressFn | None = None, cancelled: CancelFn | None = None,
    ) -> list[LayerScore]:  # fmt: skip
        """Blocks (and lm_head with the embeddings) ranked by the KL each adds when it alone is INT8, on the
        start of the text file *text*; only the recipe's granularity (per channel or not) matters."""
        from gpt2q_desktop.core.measure.inference import default_threads, torch_threads
        from gpt2q_desktop.core.measure.quality import checked_chunks, head_text, layer_sensitivity

        chunks = checked_chunks(text)
        tokenizer = self.tokenizer
        head = head_text(chunks, tokenizer, max_tokens)
        with torch_threads(threads or default_threads()):
            scores = layer_sensitivity(
                self.fp32, tokenizer, head, self.n_positions, max_tokens, per_channel=options.per_channel,
                recipe=self._recipe, progress=progress, cancelled=cancelled,
            )  # fmt: skip
        most = f"; the most sensitive is {scores[0].layer}" if scores else ""
        log.info("Ranked %s by sensitivity on %s%s", counted(len(scores), "part"), text.name, most)
        return scores
