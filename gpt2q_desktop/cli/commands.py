"""The commands that work on a checkpoint: quantize, compare, export, bench, eval and sensitivity."""

from __future__ import annotations

import argparse
import json
import sys
from pathlib import Path
from typing import TYPE_CHECKING, TextIO

from gpt2q_desktop.core.text import counted

from .output import StderrProgress, err, notes, print_data
from .stores import save_history

if TYPE_CHECKING:
    from gpt2q_desktop.core.options import RecipeOptions
    from gpt2q_desktop.core.session import Session


def _recipe(args: argparse.Namespace) -> RecipeOptions:
    from gpt2q_desktop.core.options import RecipeOptions

    return RecipeOptions(
        per_channel=args.per_channel,
        keep_lm_head=args.keep_lm_head,
        quantize_embeddings=not args.fp32_embeddings,
        exclude_layers=args.exclude_layers,
    )


def _check_kernels(args: argparse.Namespace) -> None:
    """The INT8 kernels GPT2Q_INT8_KERNELS names, refused before anything else when PyTorch runs: the error is
    the only line."""
    from gpt2q_desktop.core.runtimes import Runtime, runtimes_of
    from gpt2q_desktop.core.torch_int8.kernels import chosen_kernels

    if Runtime.TORCH in runtimes_of(getattr(args, "runtime", Runtime.TORCH)):
        chosen_kernels()


def _session(args: argparse.Namespace, require_tokenizer: bool = True, announce_int8: bool = True) -> Session:
    """A session on the checkpoint the arguments name (checked, not loaded yet); its INT8 reports go to stderr."""
    from gpt2q_desktop.core.paths import demo_student_dir
    from gpt2q_desktop.core.session import Session

    _check_kernels(args)
    session = Session()
    path = Path(args.checkpoint) if args.checkpoint else demo_student_dir()
    info = session.open(path, args.tokenizer, require_tokenizer)
    err(info.summary())
    if announce_int8:
        session.on_quantized = lambda report: notes(report.notes, f"INT8: {report.summary()}")
    return session


def cmd_quantize(args: argparse.Namespace, out: TextIO) -> int:
    from gpt2q_desktop.core.runtimes import runtimes_of

    session = _session(args, require_tokenizer=False, announce_int8=False)
    reports = [session.quantize(_recipe(args), StderrProgress(), None, rt) for rt in runtimes_of(args.runtime)]
    for report in reports:
        notes(report.notes)
    if args.json:
        dicts = [r.as_dict() for r in reports]
        print(json.dumps(dicts[0] if len(dicts) == 1 else dicts, indent=2), file=out)
        return 0
    for report in reports:
        print(report.summary(), file=out)
        print(f"cache entry: {report.cache_dir or '(not cached)'}", file=out)
    return 0


def cmd_compare(args: argparse.Namespace, out: TextIO) -> int:
    from gpt2q_desktop.core.measure.inference import resolved
    from gpt2q_desktop.core.measure.render import render, summary
    from gpt2q_desktop.core.options import RunSettings
    from gpt2q_desktop.core.runtimes import runtimes_of
    from gpt2q_desktop.core.text import check_prompt, read_prompts

    prompts = args.prompt if args.prompt else read_prompts(args.prompts_file)
    for prompt in prompts:  # before the checkpoint opens: the error line comes first and alone
        check_prompt(prompt)
    settings = resolved(RunSettings(repeats=args.repeats, warmup=args.warmup, threads=args.threads, top_k=args.top_k))
    session = _session(args)
    notes(session.load().notes)
    rows = []
    runtimes = runtimes_of(args.runtime)
    compared = session.compare(prompts, _recipe(args), settings, StderrProgress(), None, runtimes)
    print(f"timing {settings.repeats}× per model on {counted(settings.threads, 'thread')}", file=sys.stderr)
    for row in compared:
        if row.note and row.runtime == runtimes[0]:
            notes([row.note])
        rows.append(row)
    save_history(rows)
    if args.format in ("json", "csv"):
        print_data(render(rows, args.format).removesuffix("\n"), out)
        return 0
    print(render(rows, args.format), end="", file=out)
    print(("\n" if args.format == "markdown" else "") + summary(rows), file=out)
    return 0


def cmd_export(args: argparse.Namespace, out: TextIO) -> int:
    session = _session(args)
    folder = session.export_model(args.out, _recipe(args), args.force, StderrProgress())
    print(f"INT8 model for ONNX Runtime written to {folder}; see {folder / 'README.md'} to run it.", file=out)
    return 0


def cmd_bench(args: argparse.Namespace, out: TextIO) -> int:
    from gpt2q_desktop.core.bench.probes import read_bandwidth_gbs
    from gpt2q_desktop.core.bench.run import run_bench
    from gpt2q_desktop.core.bench.table import render_bench
    from gpt2q_desktop.core.measure.inference import default_threads
    from gpt2q_desktop.core.paths import demo_student_dir

    _check_kernels(args)
    threads = args.threads or default_threads()
    demo = None if args.no_demo or not demo_student_dir().is_dir() else demo_student_dir()
    bandwidth = read_bandwidth_gbs(threads)
    print(f"read bandwidth ≈ {bandwidth:.1f} GB/s on {counted(threads, 'thread')}", file=sys.stderr)
    rows = run_bench(
        list(args.layers), list(args.prompt_tokens), threads, args.repeats, args.warmup, demo,
        log=lambda msg: print(msg, file=sys.stderr), retries=args.retries,
    )  # fmt: skip
    if args.json:
        print(json.dumps([r.as_dict() for r in rows], indent=2), file=out)
    else:
        kernels = ", ".join(dict.fromkeys(r.kernels for r in rows if r.kernels))
        on = f", PyTorch INT8 on {kernels} kernels" if kernels else ""
        timing = f"{counted(threads, 'thread')}, {counted(args.repeats, 'repeat')}"
        print(f"gpt2q bench: {timing}, read bandwidth ≈ {bandwidth:.1f} GB/s{on}", file=out)
        print(render_bench(rows, bandwidth, threads), end="", file=out)
    return 0


def _text_path(args: argparse.Namespace) -> Path:
    from gpt2q_desktop.core.paths import demo_heldout_text

    return args.text if args.text else demo_heldout_text()


def cmd_eval(args: argparse.Namespace, out: TextIO) -> int:
    from gpt2q_desktop.core.runtimes import Runtime, runtime_label, runtimes_of

    text = _text_path(args)
    session = _session(args)
    runtimes = runtimes_of(args.runtime)
    results = [
        session.evaluate(text, args.max_tokens, _recipe(args), args.threads, StderrProgress(), None, rt) for rt in runtimes
    ]
    if args.json:
        dicts = [{"text": str(text), "runtime": rt, **r.as_dict()} for rt, r in zip(runtimes, results)]
        for d in dicts:  # the INT8 kernels PyTorch ran on
            d["kernels"] = session.kernels if d["runtime"] == Runtime.TORCH else None
        print(json.dumps(dicts[0] if len(dicts) == 1 else dicts, indent=2), file=out)
        return 0
    for rt, result in zip(runtimes, results):
        where = f"{runtime_label(rt)}: " if len(runtimes) > 1 else ""
        print(where + result.summary(), file=out)
        edges = ["<1e-7"] + [f"≥{b:.0e}" for b in result.kl_bins]
        print("KL histogram: " + ", ".join(f"{e} {c}" for e, c in zip(edges, result.kl_histogram)), file=out)
    return 0


def cmd_sensitivity(args: argparse.Namespace, out: TextIO) -> int:
    from gpt2q_desktop.core.options import RecipeOptions

    session = _session(args, announce_int8=False)
    options = RecipeOptions(per_channel=args.per_channel)
    scores = session.sensitivity(_text_path(args), args.max_tokens, options, args.threads, progress=StderrProgress())
    if args.json:
        print(json.dumps([s.as_dict() for s in scores], indent=2), file=out)
    else:
        print(f"{'rank':<6}{'quantized alone':<24}{'KL mean':>10}{'same top':>10}", file=out)
        for rank, s in enumerate(scores, 1):
            print(f"{rank:<6}{s.layer:<24}{s.kl_mean:>10.2e}{s.top1_agreement:>10.1%}", file=out)
    return 0
