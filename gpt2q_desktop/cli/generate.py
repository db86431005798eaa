"""``gpt2q generate``: both models continue a prompt, as the Quality lab shows it (per runtime: both continuations,
where they part, milliseconds per token)."""

from __future__ import annotations

import argparse
import json
from typing import TYPE_CHECKING, TextIO

from gpt2q_desktop.cli.output import StderrProgress, notes
from gpt2q_desktop.core.text import counted, printable, visible_token

if TYPE_CHECKING:
    from gpt2q_desktop.core.measure.continuation import Continuation, ContinuationPair


def _latency(side: Continuation) -> str:
    if side.prompt_ms is None:
        return "–"
    first = f"first token {side.prompt_ms:.2f} ms"
    if side.median_ms is None or side.p90_ms is None:
        return first
    return f"{first}, then median {side.median_ms:.2f} ms, p90 {side.p90_ms:.2f} ms per token"


def _shown(token: str) -> str:
    return token if token.strip() else visible_token(token)


def _divergence(pair: ContinuationPair) -> str:
    if pair.first_divergence is None:
        return f"The two continuations agree on all {counted(len(pair.fp32.tokens), 'token')}."
    i = pair.first_divergence
    fp32 = _shown(pair.fp32.tokens[i]) if i < len(pair.fp32.tokens) else "–"
    int8 = _shown(pair.int8.tokens[i]) if i < len(pair.int8.tokens) else "–"
    return f"They part at token {i + 1}: FP32 “{fp32}”, INT8 “{int8}”."


def render(runtime_name: str, pair: ContinuationPair, sampling: str) -> str:
    """One runtime's continuations in words, as the Quality lab shows them (a noisy timing's verdict last)."""
    lines = [f"{runtime_name}, {sampling}, {counted(pair.threads, 'thread')}:"]
    for name, side in (("FP32", pair.fp32), ("INT8", pair.int8)):
        lines.append(f"  {name}  {printable(pair.prompt)}│{printable(side.text)}")
    lines.append(f"  {_divergence(pair)}")
    for name, side in (("FP32", pair.fp32), ("INT8", pair.int8)):
        lines.append(f"  {name}  {_latency(side)}")
    if pair.noisy:
        lines.append(f"NOISY: {pair.noise_text()}")
    return "\n".join(lines)


def cmd_generate(args: argparse.Namespace, out: TextIO) -> int:
    from gpt2q_desktop.cli.commands import _recipe, _session
    from gpt2q_desktop.core.runtimes import Runtime, runtime_label, runtimes_of
    from gpt2q_desktop.core.text import check_prompt

    check_prompt(args.prompt)  # before the checkpoint opens: the error line comes first and alone
    session = _session(args)
    notes(session.load().notes)
    runtimes = runtimes_of(args.runtime)
    pairs = [
        session.continue_prompt(
            args.prompt,
            args.tokens,
            args.temperature,
            args.seed,
            _recipe(args),
            args.threads,
            StderrProgress(),
            None,
            rt,
        )
        for rt in runtimes
    ]
    if pairs[0].note:
        notes([pairs[0].note])
    kernels = {rt: session.kernels if rt == Runtime.TORCH else None for rt in runtimes}
    if args.json:
        dicts = [
            {"runtime": rt, "kernels": kernels[rt], **pair.as_dict()} for rt, pair in zip(runtimes, pairs, strict=True)
        ]
        print(json.dumps(dicts[0] if len(dicts) == 1 else dicts, indent=2), file=out)
        return 0
    sampling = "greedy" if args.temperature == 0 else f"temperature {args.temperature:g}, seed {args.seed}"
    shown = [render(runtime_label(rt, kernels[rt]), pair, sampling) for rt, pair in zip(runtimes, pairs, strict=True)]
    print("\n\n".join(shown), file=out)
    return 0
