"""The ``gpt2q`` command line's arguments: subcommands, flags, their defaults and types."""

from __future__ import annotations

import argparse
from pathlib import Path
from typing import Any, NoReturn

from gpt2q_desktop.core.options import EVAL_TOKENS, SENSITIVITY_TOKENS, RunSettings
from gpt2q_desktop.core.runtimes import RUNTIME_CHOICES, Runtime

RUN = RunSettings()
"""The defaults of every timing flag."""


class _Parser(argparse.ArgumentParser):
    """argparse, with a mistake said in one line (the usage block is what ``--help`` is for)."""

    def error(self, message: str) -> NoReturn:
        self.exit(2, f"{self.prog}: error: {message} (see {self.prog} --help)\n")


def _layers(text: str) -> tuple[int, ...]:
    """A comma-separated list of whole numbers, e.g. ``0,3``."""
    try:
        return tuple(sorted({int(x) for x in text.split(",") if x.strip()}))
    except ValueError:
        raise argparse.ArgumentTypeError(f"expected whole numbers like 0,3: {text!r}") from None


def _at_least(minimum: int) -> Any:
    """An argparse type: a whole number not below *minimum*."""

    def parse(text: str) -> int:
        try:
            value = int(text)
        except ValueError:
            raise argparse.ArgumentTypeError(f"expected a whole number: {text!r}") from None
        if value < minimum:
            raise argparse.ArgumentTypeError(f"must be at least {minimum}: {value}")
        return value

    return parse


def _temperature(text: str) -> float:
    """An argparse type: a sampling temperature (0 means greedy)."""
    try:
        value = float(text)
    except ValueError:
        raise argparse.ArgumentTypeError(f"expected a number: {text!r}") from None
    if not 0.0 <= value <= 100.0:
        raise argparse.ArgumentTypeError(f"must be between 0 and 100: {value}")
    return value


def _add_checkpoint_args(p: argparse.ArgumentParser) -> None:
    p.add_argument("checkpoint", nargs="?", help="checkpoint folder (default: the bundled demo student)")
    p.add_argument("--tokenizer", metavar="DIR", help="tokenizer folder, if not in the checkpoint folder")


def _add_recipe_args(p: argparse.ArgumentParser) -> None:
    g = p.add_argument_group("recipe")
    g.add_argument("--per-channel", action="store_true", help="one scale per output channel (default: per tensor)")
    g.add_argument("--keep-lm-head", action="store_true", help="keep lm_head (and the tied wte) in FP32")
    g.add_argument("--fp32-embeddings", action="store_true", help="keep token/position embeddings in FP32")
    g.add_argument("--exclude-layers", type=_layers, default=(), metavar="I,J", help="blocks to keep in FP32")


def _add_runtime_arg(p: argparse.ArgumentParser) -> None:
    p.add_argument(
        "--runtime", choices=tuple(RUNTIME_CHOICES), default=Runtime.TORCH,
        help="where FP32 and INT8 run: torch (default), onnxruntime (exported ONNX graphs), or both",
    )  # fmt: skip


def _add_text_args(p: argparse.ArgumentParser, default_tokens: int) -> None:
    p.add_argument("--text", type=Path, metavar="F", help="UTF-8 text (default: the demo student's held-out text)")
    p.add_argument("--max-tokens", type=_at_least(2), default=default_tokens, help=f"tokens to evaluate (default {default_tokens:,})")
    p.add_argument("--threads", type=_at_least(1), default=RUN.threads, help="threads of both runtimes (default: cores - 1, at least 1, at most 8)")


def _add_compare(sub: Any) -> None:
    """``gpt2q compare``: prompts, timing settings, output format, runtime and recipe."""
    c = sub.add_parser("compare", help="FP32 vs INT8 next token, probability and latency per prompt")
    _add_checkpoint_args(c)
    src = c.add_mutually_exclusive_group(required=True)
    src.add_argument("--prompt", action="extend", nargs="+", metavar="TEXT", help="one or more prompts")
    src.add_argument("--prompts-file", type=Path, metavar="F", help="a UTF-8 text file, one prompt a line")
    c.add_argument("--repeats", type=_at_least(1), default=RUN.repeats, help=f"timed calls per model (default {RUN.repeats})")
    c.add_argument("--warmup", type=_at_least(0), default=RUN.warmup, help=f"untimed calls first (default {RUN.warmup})")
    c.add_argument("--threads", type=_at_least(1), default=RUN.threads, help="threads of both runtimes (default: cores - 1, at least 1, at most 8)")
    c.add_argument("--top-k", type=_at_least(1), default=RUN.top_k, help=f"top tokens to report (default {RUN.top_k})")
    c.add_argument(
        "--format", choices=("table", "json", "csv", "markdown"), default="table",
        help="table (default, with a summary), json, csv, or markdown (with the summary)",
    )  # fmt: skip
    _add_runtime_arg(c)
    _add_recipe_args(c)


def _add_bench(sub: Any) -> None:
    """``gpt2q bench``: synthetic depths and prompt lengths, timing settings."""
    b = sub.add_parser("bench", help="FP32 and INT8 speed and size, PyTorch and ONNX Runtime, on GPT-2s of real shapes")
    b.add_argument("--layers", type=_layers, default=(6, 12), metavar="6,12", help="synthetic model depths")
    b.add_argument("--prompt-tokens", type=_layers, default=(8, 32), metavar="8,32", help="prompt lengths")
    b.add_argument("--threads", type=_at_least(1), default=RUN.threads, help="threads of both runtimes (default: cores - 1, at least 1, at most 8)")
    b.add_argument("--repeats", type=_at_least(1), default=RUN.repeats, help=f"timed calls per variant (default {RUN.repeats})")
    b.add_argument("--warmup", type=_at_least(0), default=RUN.warmup, help=f"untimed calls first (default {RUN.warmup})")
    b.add_argument("--retries", type=_at_least(0), default=0, metavar="N", help="measure a noisy timing run again, up to N times (default 0)")
    b.add_argument("--no-demo", action="store_true", help="skip the bundled demo student")
    b.add_argument("--json", action="store_true", help="print a JSON list of rows")


def _add_generate(sub: Any) -> None:
    """``gpt2q generate``: a prompt, tokens, sampling, threads, runtime and recipe."""
    g = sub.add_parser("generate", help="FP32 and INT8 continue a prompt: both texts, where they part, ms per token")
    _add_checkpoint_args(g)
    g.add_argument("--prompt", required=True, metavar="TEXT", help="the prompt to continue")
    g.add_argument(
        "--tokens", type=_at_least(1), default=20, metavar="N", help="tokens each model generates (default 20)"
    )
    g.add_argument("--temperature", type=_temperature, default=0.0, metavar="T", help="sample at T (default 0: greedy)")
    g.add_argument("--seed", type=_at_least(0), default=0, metavar="S", help="seed of the sampling (default 0)")
    g.add_argument(
        "--threads",
        type=_at_least(1),
        default=RUN.threads,
        help="threads of both runtimes (default: cores - 1, at least 1, at most 8)",
    )
    _add_runtime_arg(g)
    g.add_argument("--json", action="store_true", help="print one JSON object (a list of two with --runtime both)")
    _add_recipe_args(g)


def build_parser() -> argparse.ArgumentParser:
    from gpt2q_desktop.version import __version__

    parser = _Parser(prog="gpt2q", description="Quantize a GPT-2 student to INT8 and compare it with FP32.")
    parser.add_argument("--version", action="version", version=f"gpt2q {__version__}")
    parser.add_argument("-v", "--verbose", action="store_true", help="log details on stderr")
    sub = parser.add_subparsers(dest="command", required=True)

    q = sub.add_parser("quantize", help="quantize a checkpoint to INT8 (cached)")
    _add_checkpoint_args(q)
    _add_recipe_args(q)
    _add_runtime_arg(q)
    q.add_argument("--json", action="store_true", help="print one JSON object (a list of two with --runtime both)")

    _add_compare(sub)

    x = sub.add_parser("export", help="write the INT8 model for ONNX Runtime to a folder that runs without gpt2q")
    x.add_argument("checkpoint", nargs="?", help="checkpoint folder (default: the bundled demo student)")
    x.add_argument("out", type=Path, help="folder to write (model.onnx, config.json, tokenizer.json, generate.py, README.md)")
    x.add_argument("--tokenizer", metavar="DIR", help="tokenizer folder, if not in the checkpoint folder")
    x.add_argument("--runtime", choices=(Runtime.ONNXRUNTIME.value,), default=Runtime.ONNXRUNTIME.value, help="the runtime to export for")
    x.add_argument("--force", action="store_true", help="write into a folder that is not empty")
    _add_recipe_args(x)

    _add_generate(sub)
    _add_bench(sub)

    e = sub.add_parser("eval", help="perplexity, KL, Δp and top-1 agreement of FP32 vs INT8 over a text")
    _add_checkpoint_args(e)
    _add_text_args(e, default_tokens=EVAL_TOKENS)
    _add_recipe_args(e)
    _add_runtime_arg(e)
    e.add_argument("--json", action="store_true", help="print one JSON object")

    s = sub.add_parser("sensitivity", help="rank blocks by the KL each adds when quantized alone")
    _add_checkpoint_args(s)
    _add_text_args(s, default_tokens=SENSITIVITY_TOKENS)
    s.add_argument("--per-channel", action="store_true", help="one scale per output channel")
    s.add_argument("--json", action="store_true", help="print a JSON list, most sensitive first")

    h = sub.add_parser("history", help="the comparison history the window and compare keep (SQLite, in the data dir)")
    h.add_argument("--checkpoint", metavar="NAME", help="only the rows of this checkpoint (its folder name)")
    fmt = h.add_mutually_exclusive_group()
    fmt.add_argument("--json", action="store_true", help="print a JSON list of rows (with their ids)")
    fmt.add_argument("--format", choices=("table", "csv", "markdown"), default="table", help="output format (default table)")

    k = sub.add_parser("cache", help="list or clear cached INT8 models")
    k.add_argument("action", choices=("list", "clear"), help="list the entries, or delete them all")
    k.add_argument("--json", action="store_true", help="print one JSON object")
    return parser
