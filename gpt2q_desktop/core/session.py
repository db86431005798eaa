"""One opened checkpoint and everything a front end does with it: the pipeline, written once.

A :class:`Session` owns the checkpoint (inspected at once, loaded when first needed), its tokenizer, the
cache and the INT8 model of the current recipe. Its verbs (open, load, quantize, compare, continue,
evaluate, rank layers) check their inputs before any long work, quantize when the INT8 model is missing
or stale, and report progress and honour cancel through plain callbacks. The CLI, the self-test, the
bench and the window's worker all go through it; none of them loads or quantizes a checkpoint itself.
"""

from __future__ import annotations

from collections.abc import Callable, Iterator, Sequence
from dataclasses import dataclass, field
from pathlib import Path
from typing import TYPE_CHECKING, Any

from .checkpoint import CheckpointInfo, inspect_checkpoint, load_inspected
from .errors import Cancelled, CheckpointError, TokenizerError
from .options import AUTO_THREADS, RecipeOptions, RunSettings

if TYPE_CHECKING:
    from torch import nn

    from .cache import QuantCache
    from .checkpoint import LoadedCheckpoint
    from .compare import ComparisonRow
    from .quality import ContinuationPair, CorpusEval, LayerScore
    from .quantize import QuantizeReport
    from .recipe import CancelFn, ProgressFn, QuantizationRecipe
    from .runner import EncodedPrompt


@dataclass(frozen=True)
class Opened:
    """A loaded checkpoint: what it is, and what the user should know about it."""

    info: CheckpointInfo
    label: str
    notes: list[str] = field(default_factory=list)

    @property
    def has_tokenizer(self) -> bool:
        return self.info.tokenizer_dir is not None


class Session:
    """The checkpoint a front end works on, and the INT8 model of its current recipe."""

    def __init__(self, cache: QuantCache | None = None, recipe: QuantizationRecipe | None = None) -> None:
        self._cache = cache
        self._recipe = recipe
        self.info: CheckpointInfo | None = None
        self._loaded: LoadedCheckpoint | None = None
        self._int8: nn.Module | None = None
        self._int8_options: RecipeOptions | None = None
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
        self.info, self._loaded, self._int8, self._int8_options = None, None, None, None

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
            self._loaded = load_inspected(info)
        return self._loaded

    # -- INT8 -----------------------------------------------------------------------------------
    def quantize(
        self, options: RecipeOptions, progress: ProgressFn | None = None, cancelled: CancelFn | None = None
    ) -> QuantizeReport:
        """The INT8 model of *options*, from the cache or freshly quantized (and stored); it becomes current."""
        from .cache import QuantCache
        from .quantize import DEFAULT_RECIPE, quantize_checkpoint

        info = self._require_info()
        model, report = quantize_checkpoint(
            info, options, lambda: self.fp32, self._cache or QuantCache(), self._recipe or DEFAULT_RECIPE,
            progress, cancelled,
        )  # fmt: skip
        self._int8, self._int8_options = model, options
        if self.on_quantized is not None:
            self.on_quantized(report)
        return report

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
        from .runner import encode_prompt

        tokenizer, n_positions = self.tokenizer, self.n_positions
        return [encode_prompt(tokenizer, text, n_positions) for text in prompts]

    def compare(
        self, prompts: Sequence[str], options: RecipeOptions, settings: RunSettings,
        progress: ProgressFn | None = None, cancelled: CancelFn | None = None,
    ) -> Iterator[ComparisonRow]:  # fmt: skip
        """FP32 versus INT8 on each prompt, one row at a time (prompts checked and INT8 ready first)."""
        encoded = self.encode(prompts)
        int8 = self.int8(options, progress, cancelled)
        return self._rows(encoded, int8, settings, progress, cancelled)

    def _rows(
        self, encoded: list[EncodedPrompt], int8: nn.Module, settings: RunSettings,
        progress: ProgressFn | None, cancelled: CancelFn | None,
    ) -> Iterator[ComparisonRow]:  # fmt: skip
        """The rows one by one; the progress message gains an ETA once a few prompts have been timed."""
        import time

        from .compare import compare_encoded
        from .text import time_left

        timed_before_eta = 3
        total, start = len(encoded), time.monotonic()
        for i, prompt in enumerate(encoded):
            if cancelled is not None and cancelled():
                raise Cancelled(f"Stopped after {i} of {total} prompts.")
            if progress is not None:
                eta = f", {time_left((time.monotonic() - start) / i * (total - i))}" if i >= timed_before_eta else ""
                progress(i, total, f"Running prompt {i + 1} of {total}{eta}")
            yield compare_encoded(self.fp32, int8, self.tokenizer, prompt, settings)
        if progress is not None:
            progress(total, total, "Done")

    def continue_prompt(
        self, prompt: str, n_tokens: int, temperature: float, seed: int, options: RecipeOptions,
        progress: ProgressFn | None = None, cancelled: CancelFn | None = None,
    ) -> ContinuationPair:  # fmt: skip
        """Both models continue *prompt* (greedy when *temperature* is 0)."""
        from .quality import continuation_pair

        self.encode([prompt])
        int8 = self.int8(options, progress, cancelled)
        if progress is not None:
            progress(0, 1, "Generating with both models")
        pair = continuation_pair(
            self.fp32, int8, self.tokenizer, prompt, n_tokens, self.n_positions, temperature, seed, cancelled
        )
        if progress is not None:
            progress(1, 1, "Done")
        return pair

    def evaluate(
        self, text: Path, max_tokens: int, options: RecipeOptions, threads: int = AUTO_THREADS,
        progress: ProgressFn | None = None, cancelled: CancelFn | None = None,
    ) -> CorpusEval:  # fmt: skip
        """FP32 versus INT8 over the text file *text* (its first *max_tokens* tokens)."""
        from .quality import checked_chunks, evaluate_text
        from .runner import default_threads, torch_threads

        chunks = checked_chunks(text)
        tokenizer = self.tokenizer
        int8 = self.int8(options, progress, cancelled)
        with torch_threads(threads or default_threads()):
            return evaluate_text(
                self.fp32, int8, tokenizer, chunks, self.n_positions, max_tokens, progress=progress, cancelled=cancelled
            )

    def rank_layers(
        self, text: Path, max_tokens: int, options: RecipeOptions, threads: int = AUTO_THREADS,
        progress: ProgressFn | None = None, cancelled: CancelFn | None = None,
    ) -> list[LayerScore]:  # fmt: skip
        """Blocks (and lm_head with the embeddings) ranked by the KL each adds when it alone is INT8, on the
        start of the text file *text*; only the recipe's granularity (per channel or not) matters."""
        from .quality import checked_chunks, head_text, layer_sensitivity
        from .runner import default_threads, torch_threads

        chunks = checked_chunks(text)
        tokenizer = self.tokenizer
        head = head_text(chunks, tokenizer, max_tokens)
        with torch_threads(threads or default_threads()):
            return layer_sensitivity(
                self.fp32, tokenizer, head, self.n_positions, max_tokens, per_channel=options.per_channel,
                recipe=self._recipe, progress=progress, cancelled=cancelled,
            )  # fmt: skip
