#!/usr/bin/env python3
"""Train the bundled demo GPT-2 "student" model of gpt2q-desktop.

The result goes to ``resources/demo-student/`` and is a complete Hugging Face
model folder: ``GPT2LMHeadModel.from_pretrained(folder)`` and
``AutoTokenizer.from_pretrained(folder)`` both work on it alone.

Corpus
------
Jane Austen's six completed novels (the text is public domain) as shipped by
Debian's ``r-cran-janeaustenr`` package (MIT licence).  The package stores the
novels in R's lazy-load database (``data/Rdata.rdx`` + ``data/Rdata.rdb``):

* ``Rdata.rdx`` is a gzip-compressed serialized R list whose ``variables``
  element maps each object name to an ``(offset, length)`` pair in the .rdb;
* each .rdb record is a 4-byte big-endian uncompressed length followed by a
  zlib stream holding one serialized R object (here a character vector with
  one element per printed line of the novel).

Both are decoded with the pure-Python ``rdata`` package, so R is not needed.
Lines are joined into paragraphs (blank lines separate paragraphs) and the
last ``--heldout-frac`` of every novel's paragraphs is held out.  The held-out
paragraphs are never trained on and are written to ``heldout.txt``.

Tool-only dependencies (NOT project dependencies)::

    apt-get update && apt-get install -y r-cran-janeaustenr
    .venv/bin/pip install rdata

plus torch, transformers and safetensors, which the project venv already has.

Training
--------
A small GPT-2 (``GPT2LMHeadModel``, vocab 50257, tied embeddings) is trained
with AdamW, linear warm-up and cosine decay on random contiguous blocks of the
tokenized training text.  With ``--minutes`` the learning-rate schedule is laid
out over the wall-clock budget (progress = elapsed / budget) and training stops
gracefully when it runs out; with ``--max-steps`` the schedule is laid out over
steps instead (fully deterministic).  Validation loss / perplexity on the
held-out text is reported every ``--eval-every-seconds`` and the
best-validation weights are written out (fp16 safetensors) whenever they
improve.

Speed trick (``--corpus-vocab-frac``): the 50257-way output softmax dominates
the cost of such a small model on CPU, yet the corpus uses only ~15k distinct
token ids.  For the first fraction of the budget the loss is computed over
just the corpus token ids (an exact softmax restricted to that subset); the
rest of the budget trains with the full 50257-way softmax so the model learns
to give the never-seen tokens low probability.  All reported validation
figures always use the full softmax of the unmodified model.

Reproduce (from the project root)::

    .venv/bin/python tools/train_demo_student.py --minutes 50

Re-generate only the model card / training.json from the saved folder::

    .venv/bin/python tools/train_demo_student.py --card-only
"""

from __future__ import annotations

import argparse
import copy
import gzip
import json
import math
import random
import shutil
import struct
import sys
import time
import zlib
from dataclasses import asdict, dataclass, field
from pathlib import Path
from typing import Any

import numpy as np
import torch
import torch.nn.functional as F

ROOT = Path(__file__).resolve().parent.parent
DEFAULT_TOKENIZER_DIR = ROOT / "resources" / "gpt2-tokenizer"
DEFAULT_OUT_DIR = ROOT / "resources" / "demo-student"
JANEAUSTENR_DATA = Path("/usr/lib/R/site-library/janeaustenr/data")

#: Order in which the novels are concatenated (publication order).
NOVELS: tuple[tuple[str, str], ...] = (
    ("sensesensibility", "Sense & Sensibility"),
    ("prideprejudice", "Pride & Prejudice"),
    ("mansfieldpark", "Mansfield Park"),
    ("emma", "Emma"),
    ("northangerabbey", "Northanger Abbey"),
    ("persuasion", "Persuasion"),
)

SAMPLE_PROMPTS: tuple[str, ...] = (
    "The sky is",
    "It is a truth universally acknowledged that a single man in possession "
    "of a good fortune, must be in want of a",
    "Mr. Darcy",
    "She was",
    "I am",
    "Elizabeth",
    "My dear",
)

TOKENIZER_FILES: tuple[str, ...] = ("vocab.json", "merges.txt", "tokenizer_config.json")


# --------------------------------------------------------------------------
# Corpus
# --------------------------------------------------------------------------


def _r_unserialize(payload: bytes) -> Any:
    """Decode one serialized (uncompressed, XDR) R object into Python."""
    import warnings

    import rdata  # tool-only dependency, see module docstring

    with warnings.catch_warnings():
        warnings.simplefilter("ignore")  # "Unknown file type: assumed RDS"
        parsed = rdata.parser.parse_data(payload)
        return rdata.conversion.convert(parsed)


def read_lazyload_db(data_dir: Path, stem: str = "Rdata") -> dict[str, Any]:
    """Read every object of an R lazy-load database (``stem.rdx``/``stem.rdb``)."""
    index = _r_unserialize(gzip.decompress((data_dir / f"{stem}.rdx").read_bytes()))
    blob = (data_dir / f"{stem}.rdb").read_bytes()
    objects: dict[str, Any] = {}
    for name, pos in index["variables"].items():
        offset, length = int(pos[0]), int(pos[1])
        record = blob[offset : offset + length]
        (expected,) = struct.unpack(">I", record[:4])
        payload = zlib.decompress(record[4:])
        if len(payload) != expected:
            raise ValueError(f"{name}: size {len(payload)} != header {expected}")
        objects[str(name)] = _r_unserialize(payload)
    return objects


def lines_to_paragraphs(lines: list[str]) -> list[str]:
    """Join printed lines into paragraphs; blank lines end a paragraph."""
    paragraphs: list[str] = []
    current: list[str] = []
    for raw in lines:
        line = " ".join(str(raw).split())
        if line:
            current.append(line)
        elif current:
            paragraphs.append(" ".join(current))
            current = []
    if current:
        paragraphs.append(" ".join(current))
    return paragraphs


@dataclass
class Corpus:
    """Train / held-out text, one string per novel."""

    train: list[str]
    heldout: list[str]
    titles: list[str]


def load_corpus(data_dir: Path, heldout_frac: float) -> Corpus:
    """Extract the six novels and split off the last ``heldout_frac`` of each."""
    objects = read_lazyload_db(data_dir)
    train: list[str] = []
    heldout: list[str] = []
    titles: list[str] = []
    for key, title in NOVELS:
        paragraphs = lines_to_paragraphs([str(x) for x in objects[key]])
        total = sum(len(p) for p in paragraphs)
        # Walk back from the end until heldout_frac of the characters is held out.
        cut = len(paragraphs)
        held_chars = 0
        while cut > 0 and held_chars < heldout_frac * total:
            cut -= 1
            held_chars += len(paragraphs[cut])
        train.append("\n\n".join(paragraphs[:cut]))
        heldout.append("\n\n".join(paragraphs[cut:]))
        titles.append(title)
    return Corpus(train=train, heldout=heldout, titles=titles)


# --------------------------------------------------------------------------
# Model helpers
# --------------------------------------------------------------------------


def build_model(args: argparse.Namespace, vocab_size: int) -> Any:
    from transformers import GPT2Config, GPT2LMHeadModel

    config = GPT2Config(
        vocab_size=vocab_size,
        n_positions=args.n_positions,
        n_embd=args.n_embd,
        n_layer=args.n_layer,
        n_head=args.n_head,
        resid_pdrop=args.dropout,
        embd_pdrop=args.dropout,
        attn_pdrop=args.dropout,
        tie_word_embeddings=True,
        bos_token_id=50256,
        eos_token_id=50256,
    )
    return GPT2LMHeadModel(config)


@torch.no_grad()
def evaluate(model: Any, ids: torch.Tensor, block: int) -> float:
    """Mean next-token NLL (nats) over non-overlapping ``block``-token windows.

    Every token of ``ids`` except the first is predicted exactly once; a
    window's first token is only context (its target was the previous
    window's last prediction).
    """
    was_training = model.training
    model.eval()
    total_nll = 0.0
    total_tok = 0
    for start in range(0, max(len(ids) - 1, 1), block):
        seq = ids[start : start + block + 1]
        if len(seq) < 2:
            continue
        x = seq[:-1].unsqueeze(0)
        y = seq[1:]
        logits = model(input_ids=x).logits[0].float()
        total_nll += float(F.cross_entropy(logits, y, reduction="sum"))
        total_tok += y.numel()
    if was_training:
        model.train()
    return total_nll / max(total_tok, 1)


def restricted_loss(model: Any, x: torch.Tensor, y_local: torch.Tensor, keep: torch.Tensor) -> torch.Tensor:
    """Cross-entropy over the ``keep`` token ids only (``y_local`` indexes into keep)."""
    hidden = model.transformer(input_ids=x).last_hidden_state  # (B, T, C)
    weight = model.transformer.wte.weight[keep]  # (K, C), tied head rows
    logits = hidden @ weight.t()
    return F.cross_entropy(logits.reshape(-1, logits.size(-1)).float(), y_local.reshape(-1))


def lr_at(progress: float, warmup: float, peak: float, final_ratio: float) -> float:
    """Linear warm-up to ``peak`` then cosine decay to ``peak * final_ratio``."""
    if progress < warmup:
        return peak * max(progress, 1e-3 * warmup) / warmup
    p = min(1.0, (progress - warmup) / max(1e-9, 1.0 - warmup))
    return peak * (final_ratio + (1.0 - final_ratio) * 0.5 * (1.0 + math.cos(math.pi * p)))


def save_model(model: Any, out_dir: Path) -> None:
    """Save weights as fp16 safetensors (+ config / generation config)."""
    out_dir.mkdir(parents=True, exist_ok=True)
    half = copy.deepcopy(model).to(torch.float16)
    half.save_pretrained(out_dir, safe_serialization=True)
    for f in out_dir.iterdir():  # safetensors writes 0600; the bundle must be world-readable
        if f.is_file():
            f.chmod(0o644)


def good_turing_missing_mass(train: torch.Tensor) -> float:
    """Good-Turing estimate of the probability of a token id never seen in training."""
    counts = torch.bincount(train)
    return float((counts == 1).sum()) / float(len(train))


def calibrate_unseen_rows(
    model: Any, train: torch.Tensor, keep: torch.Tensor, block: int, seed: int, n_blocks: int = 32
) -> dict[str, float]:
    """Give every token id absent from the training text one shared, fitted embedding row.

    Token ids that never occur in the training text get no useful gradient, so
    after training their (tied) rows are arbitrary and can soak up a large share
    of the 50257-way softmax.  This sets all of them to one vector ``u`` fitted
    on training-text hidden states so that, together, they receive the
    Good-Turing missing mass ``m`` (the rate of once-seen tokens): it minimises
    ``E[-log p(target)] + m * E[-log p(any unseen id)]``, whose optimum gives the
    unseen ids total probability ``m`` at every position.  Only ``u`` is fitted;
    every other weight is unchanged.  The change is kept only if the plain
    full-softmax loss on the training sample does not get worse.  No held-out
    text is used.
    """
    was_training = model.training
    model.eval()
    gen = torch.Generator().manual_seed(seed + 1)
    starts = torch.randint(0, len(train) - block - 1, (n_blocks,), generator=gen)
    batch = torch.stack([train[s : s + block + 1] for s in starts.tolist()])
    x, y = batch[:, :-1], batch[:, 1:].reshape(-1)
    wte = model.transformer.wte.weight
    unseen = torch.ones(wte.size(0), dtype=torch.bool)
    unseen[keep] = False
    n_unseen = int(unseen.sum())
    m = good_turing_missing_mass(train)
    with torch.no_grad():
        h = model.transformer(input_ids=x).last_hidden_state.reshape(-1, wte.size(1)).float()
        w = wte.detach().float()
        tgt = (h * w[y]).sum(-1)
        lse_seen = torch.logsumexp(h @ w[keep].t(), dim=-1)
        lse_unseen_now = torch.logsumexp(h @ w[unseen].t(), dim=-1)
        before = float((torch.logaddexp(lse_seen, lse_unseen_now) - tgt).mean())
    log_n = math.log(n_unseen)
    u = w[unseen].mean(0).clone().requires_grad_(True)
    opt = torch.optim.Adam([u], lr=0.05)
    for _ in range(400):
        lse_u = log_n + h @ u
        lse_all = torch.logaddexp(lse_seen, lse_u)
        obj = (lse_all - tgt).mean() + m * (lse_all - lse_u).mean()
        opt.zero_grad()
        obj.backward()
        opt.step()
    with torch.no_grad():
        lse_u = log_n + h @ u
        after = float((torch.logaddexp(lse_seen, lse_u) - tgt).mean())
        unseen_mass = float(torch.exp(lse_u - torch.logaddexp(lse_seen, lse_u)).mean())
        applied = after <= before
        if applied:
            wte[unseen] = u.detach().to(wte.dtype)
    if was_training:
        model.train()
    return {
        "unseen_ids": n_unseen,
        "good_turing_mass": round(m, 6),
        "train_sample_loss_before": round(before, 4),
        "train_sample_loss_after": round(after, 4),
        "unseen_mass_after": round(unseen_mass, 6),
        "applied": float(applied),
    }


def copy_tokenizer(tokenizer_dir: Path, out_dir: Path) -> None:
    for name in TOKENIZER_FILES:
        shutil.copyfile(tokenizer_dir / name, out_dir / name)
    lic = tokenizer_dir / "LICENSE"
    if lic.exists():
        shutil.copyfile(lic, out_dir / "TOKENIZER-LICENSE")


# --------------------------------------------------------------------------
# Model card
# --------------------------------------------------------------------------


@dataclass
class TrainStats:
    """Figures recorded by the training run (kept in training.json)."""

    command: str = ""
    steps: int = 0
    best_step: int = 0
    batch_size: int = 0
    block_size: int = 0
    tokens_per_step: int = 0
    tokens_seen: int = 0
    seconds: float = 0.0
    threads: int = 1
    peak_lr: float = 0.0
    corpus_vocab_frac: float = 0.0
    corpus_vocab_size: int = 0
    train_tokens: int = 0
    heldout_tokens: int = 0
    heldout_chars: int = 0
    seed: int = 0
    history: list[dict[str, float]] = field(default_factory=list)
    calibration: dict[str, float] = field(default_factory=dict)


def sample_predictions(model: Any, tokenizer: Any, prompts: tuple[str, ...]) -> list[dict[str, Any]]:
    rows: list[dict[str, Any]] = []
    model.eval()
    with torch.no_grad():
        for prompt in prompts:
            ids = tokenizer(prompt, return_tensors="pt")["input_ids"]
            probs = torch.softmax(model(input_ids=ids).logits[0, -1].float(), dim=-1)
            p, tok = probs.max(dim=-1)
            rows.append(
                {
                    "prompt": prompt,
                    "token": tokenizer.decode([int(tok)]),
                    "token_id": int(tok),
                    "prob": round(float(p), 4),
                }
            )
    return rows


def finalize(out_dir: Path, train: torch.Tensor, keep: torch.Tensor, heldout_ids: torch.Tensor,
             stats: TrainStats, seed: int) -> None:
    """Load the best checkpoint, calibrate the unseen-token rows, save it again."""
    from transformers import GPT2LMHeadModel

    model = GPT2LMHeadModel.from_pretrained(out_dir, dtype=torch.float32)
    block = model.config.n_positions
    val_before = evaluate(model, heldout_ids, block)
    info = calibrate_unseen_rows(model, train, keep, block, seed)
    val_after = evaluate(model, heldout_ids, block)
    info["val_loss_before"] = round(val_before, 4)  # reported only, never used to decide
    info["val_loss_after"] = round(val_after, 4)
    stats.calibration = info
    print(f"[calibrate] {info}", flush=True)
    if info["applied"]:
        save_model(model, out_dir)


def write_card(out_dir: Path, stats: TrainStats, torch_threads_note: str) -> dict[str, Any]:
    """Evaluate the saved folder (fp16 weights upcast to fp32) and write the card."""
    from transformers import AutoTokenizer, GPT2LMHeadModel

    model = GPT2LMHeadModel.from_pretrained(out_dir, dtype=torch.float32)
    tokenizer = AutoTokenizer.from_pretrained(out_dir)
    cfg = model.config
    heldout = (out_dir / "heldout.txt").read_text(encoding="utf-8")
    ids = torch.tensor(tokenizer(heldout)["input_ids"], dtype=torch.long)
    val_loss = evaluate(model, ids, cfg.n_positions)
    val_ppl = math.exp(val_loss)
    samples = sample_predictions(model, tokenizer, SAMPLE_PROMPTS)
    n_params = sum(p.numel() for p in model.parameters())  # tied: counted once
    n_nonemb = n_params - model.transformer.wte.weight.numel() - model.transformer.wpe.weight.numel()

    summary: dict[str, Any] = {
        "val_loss": round(val_loss, 4),
        "val_perplexity": round(val_ppl, 2),
        "val_tokens": int(ids.numel() - 1),
        "steps": stats.steps,
        "best_step": stats.best_step,
        "tokens_seen": stats.tokens_seen,
        "seconds": round(stats.seconds, 1),
        "threads": stats.threads,
        "parameters": n_params,
        "samples": samples,
        "training": asdict(stats),
    }
    (out_dir / "training.json").write_text(json.dumps(summary, indent=2) + "\n", encoding="utf-8")

    def md_escape(s: str) -> str:
        return s.replace("|", "\\|").replace("\n", "\\n")

    table = "\n".join(
        f"| {md_escape(r['prompt'])} | `{md_escape(r['token'])}` | {r['token_id']} | {r['prob']:.3f} |"
        for r in samples
    )
    cal = stats.calibration
    if cal.get("applied"):
        calib_note = (
            f"after training, the {int(cal['unseen_ids']):,} token ids absent from the training text share one "
            f"fitted embedding row giving them together the Good-Turing missing mass "
            f"({cal['good_turing_mass']:.4f}); training-sample loss {cal['train_sample_loss_before']:.3f} -> "
            f"{cal['train_sample_loss_after']:.3f}, held-out loss {cal['val_loss_before']:.3f} -> {cal['val_loss_after']:.3f}"
        )
    elif cal:
        calib_note = "calibration tried and not applied (it did not lower the training-sample loss)"
    else:
        calib_note = "not calibrated"
    size_mb = sum(f.stat().st_size for f in out_dir.iterdir() if f.is_file()) / 1e6
    card = f"""# gpt2q-desktop demo student (GPT-2 architecture, trained on Jane Austen)

A deliberately small GPT-2 language model bundled with gpt2q-desktop so the
app has a real, working model to load, quantize and evaluate without any
download. It is a demo, not a capable language model: it knows only the
prose of Jane Austen's six novels.

Generated by `tools/train_demo_student.py`; every figure below was computed
by that script from the saved folder (fp16 weights upcast to fp32).

## Architecture

| field | value |
| --- | --- |
| class | `GPT2LMHeadModel` (`model_type: gpt2`) |
| layers / width / heads | {cfg.n_layer} / {cfg.n_embd} / {cfg.n_head} |
| context (`n_positions`) | {cfg.n_positions} |
| vocabulary | {cfg.vocab_size} (the real GPT-2 byte-level BPE) |
| embeddings | input and output tied |
| parameters | {n_params:,} ({n_nonemb:,} outside the token/position embeddings) |
| weights on disk | `model.safetensors`, fp16 (upcast on load) |
| folder size | {size_mb:.1f} MB |

## Data and licences

* Corpus: Jane Austen, *Sense and Sensibility*, *Pride and Prejudice*,
  *Mansfield Park*, *Emma*, *Northanger Abbey*, *Persuasion*. The text is in
  the public domain. It was taken from Debian's `r-cran-janeaustenr` package
  (the `janeaustenr` R package by Julia Silge, MIT licence), read from its R
  lazy-load database without R.
* Lines were joined into paragraphs (blank line between paragraphs). The last
  paragraphs of each novel ({stats.heldout_chars:,} characters,
  {stats.heldout_tokens:,} tokens in all) were held out and never trained on;
  they are `heldout.txt` in this folder. Training text: {stats.train_tokens:,} tokens.
* Tokenizer: OpenAI's GPT-2 `vocab.json` / `merges.txt` (MIT licence, see
  `TOKENIZER-LICENSE`).
* The model weights were trained from scratch by the script above.

## Training

| field | value |
| --- | --- |
| command | `{stats.command}` |
| optimizer | AdamW, linear warm-up, cosine decay, peak LR {stats.peak_lr:g} |
| steps | {stats.steps:,} (best validation at step {stats.best_step:,}) |
| batch | {stats.batch_size} sequences x {stats.block_size} tokens = {stats.tokens_per_step:,} tokens/step |
| tokens seen | {stats.tokens_seen:,} |
| wall time | {stats.seconds / 60:.1f} min on CPU, {stats.threads} torch thread(s){torch_threads_note} |
| corpus-vocabulary softmax | first {stats.corpus_vocab_frac:.0%} of the run over the {stats.corpus_vocab_size:,} token ids in the corpus, then the full 50257-way softmax |
| unseen-token rows | {calib_note} |
| precision | bf16 autocast for training matmuls (fp32 master weights); evaluation in fp32 |
| dropout | {cfg.resid_pdrop} |
| seed | {stats.seed} |

## Held-out evaluation

Mean next-token loss over `heldout.txt` in non-overlapping {cfg.n_positions}-token windows
({int(ids.numel() - 1):,} predicted tokens):

* validation loss: **{val_loss:.4f}** nats/token
* validation perplexity: **{val_ppl:.2f}**

## Sample next-token predictions (greedy top-1)

| prompt | top-1 token | id | probability |
| --- | --- | --- | --- |
{table}

## Reproduce

From the project root (after `apt-get install -y r-cran-janeaustenr` and
`.venv/bin/pip install rdata`):

```
{stats.command}
```

Wall-clock budgets make runs on other machines differ slightly; pass
`--max-steps N` instead of `--minutes` for a step-exact schedule.
"""
    (out_dir / "README.md").write_text(card, encoding="utf-8")
    return summary


# --------------------------------------------------------------------------
# Main
# --------------------------------------------------------------------------


def parse_args(argv: list[str] | None = None) -> argparse.Namespace:
    ap = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    ap.add_argument("--out", type=Path, default=DEFAULT_OUT_DIR, help="output model folder")
    ap.add_argument("--tokenizer", type=Path, default=DEFAULT_TOKENIZER_DIR, help="GPT-2 tokenizer folder")
    ap.add_argument("--data-dir", type=Path, default=JANEAUSTENR_DATA, help="janeaustenr data/ folder")
    ap.add_argument("--card-only", action="store_true", help="only re-evaluate the saved folder and rewrite README.md / training.json")
    ap.add_argument("--finalize-only", action="store_true",
                    help="skip training: calibrate the unseen-token rows of the saved folder, then rewrite the card "
                    "(the step a full run does after its training loop)")
    ap.add_argument("--minutes", type=float, default=50.0, help="wall-clock training budget (minutes)")
    ap.add_argument("--max-steps", type=int, default=0, help="if > 0, lay the schedule out over this many steps (deterministic)")
    ap.add_argument("--threads", type=int, default=1, help="torch intra-op threads")
    ap.add_argument("--seed", type=int, default=1234)
    ap.add_argument("--heldout-frac", type=float, default=0.015, help="fraction of each novel's characters held out")
    ap.add_argument("--n-layer", type=int, default=4)
    ap.add_argument("--n-embd", type=int, default=256)
    ap.add_argument("--n-head", type=int, default=4)
    ap.add_argument("--n-positions", type=int, default=256)
    ap.add_argument("--dropout", type=float, default=0.05)
    ap.add_argument("--block-size", type=int, default=256, help="training sequence length")
    ap.add_argument("--batch-size", type=int, default=8, help="sequences per step")
    ap.add_argument("--lr", type=float, default=2e-3, help="peak learning rate")
    ap.add_argument("--final-lr-ratio", type=float, default=0.05)
    ap.add_argument("--warmup", type=float, default=0.03, help="warm-up as a fraction of the schedule")
    ap.add_argument("--weight-decay", type=float, default=0.05)
    ap.add_argument("--grad-clip", type=float, default=1.0)
    ap.add_argument("--corpus-vocab-frac", type=float, default=0.85,
                    help="fraction of the schedule trained with the softmax restricted to corpus token ids (0 = off)")
    ap.add_argument("--bf16", action=argparse.BooleanOptionalAction, default=True,
                    help="bf16 autocast for the training forward/backward (fp32 master weights; "
                    "evaluation is always fp32)")
    ap.add_argument("--eval-every-seconds", type=float, default=240.0)
    ap.add_argument("--log-every", type=int, default=20)
    return ap.parse_args(argv)


def main(argv: list[str] | None = None) -> int:
    args = parse_args(argv)
    torch.set_num_threads(args.threads)
    out_dir: Path = args.out
    threads_note = " (the machine has 2 cores shared with other work)"

    if args.card_only:
        stats_path = out_dir / "training.json"
        stats = TrainStats(**json.loads(stats_path.read_text())["training"]) if stats_path.exists() else TrainStats()
        summary = write_card(out_dir, stats, threads_note)
        print(json.dumps({k: summary[k] for k in ("val_loss", "val_perplexity", "samples")}, indent=2))
        return 0

    from transformers import AutoTokenizer

    random.seed(args.seed)
    np.random.seed(args.seed)
    torch.manual_seed(args.seed)

    t_prep = time.time()
    corpus = load_corpus(args.data_dir, args.heldout_frac)
    tokenizer = AutoTokenizer.from_pretrained(args.tokenizer)
    eos = tokenizer.eos_token_id
    assert tokenizer("Hello world")["input_ids"] == [15496, 995], "unexpected tokenizer"

    train_ids: list[int] = []
    for text in corpus.train:
        train_ids.extend(tokenizer(text)["input_ids"])
        train_ids.append(eos)
    heldout_text = "\n\n".join(corpus.heldout) + "\n"
    heldout_ids = torch.tensor(tokenizer(heldout_text)["input_ids"], dtype=torch.long)
    train = torch.tensor(train_ids, dtype=torch.long)

    out_dir.mkdir(parents=True, exist_ok=True)
    (out_dir / "heldout.txt").write_text(heldout_text, encoding="utf-8")
    copy_tokenizer(args.tokenizer, out_dir)

    keep = torch.unique(train)  # sorted corpus token ids
    remap = torch.full((len(tokenizer),), -1, dtype=torch.long)
    remap[keep] = torch.arange(len(keep))
    print(
        f"corpus: train {len(train):,} tokens, heldout {len(heldout_ids):,} tokens "
        f"({len(heldout_text):,} chars), corpus vocab {len(keep):,}; prep {time.time() - t_prep:.1f}s",
        flush=True,
    )

    if args.finalize_only:
        stats_path = out_dir / "training.json"
        stats = TrainStats(**json.loads(stats_path.read_text())["training"])
        finalize(out_dir, train, keep, heldout_ids, stats, stats.seed)
        summary = write_card(out_dir, stats, threads_note)
        print(json.dumps({k: summary[k] for k in ("val_loss", "val_perplexity", "samples")}, indent=2))
        return 0

    model = build_model(args, len(tokenizer))
    n_params = sum(p.numel() for p in model.parameters())
    print(f"model: {n_params:,} parameters", flush=True)

    decay, no_decay = [], []
    for name, p in model.named_parameters():
        (decay if p.dim() >= 2 and "wpe" not in name else no_decay).append(p)
    opt = torch.optim.AdamW(
        [{"params": decay, "weight_decay": args.weight_decay}, {"params": no_decay, "weight_decay": 0.0}],
        lr=args.lr,
        betas=(0.9, 0.95),
        eps=1e-8,
    )

    stats = TrainStats(
        command="",
        batch_size=args.batch_size,
        block_size=args.block_size,
        tokens_per_step=args.batch_size * args.block_size,
        threads=args.threads,
        peak_lr=args.lr,
        corpus_vocab_frac=args.corpus_vocab_frac,
        corpus_vocab_size=int(len(keep)),
        train_tokens=int(len(train)),
        heldout_tokens=int(len(heldout_ids)),
        heldout_chars=len(heldout_text),
        seed=args.seed,
    )
    cmd = [".venv/bin/python", "tools/train_demo_student.py"] + (sys.argv[1:] if argv is None else argv)
    stats.command = " ".join(cmd)

    gen = torch.Generator().manual_seed(args.seed)
    budget = args.minutes * 60.0
    best = float("inf")
    t0 = time.time()
    last_eval = t0
    step = 0
    model.train()
    running = 0.0
    running_n = 0

    def progress() -> float:
        if args.max_steps > 0:
            return step / args.max_steps
        return (time.time() - t0) / budget

    def do_eval(final: bool = False) -> None:
        nonlocal best, last_eval
        vl = evaluate(model, heldout_ids, args.n_positions)
        elapsed = time.time() - t0
        stats.history.append({"step": step, "seconds": round(elapsed, 1), "val_loss": round(vl, 4)})
        mark = ""
        if vl < best:
            best = vl
            stats.best_step = step
            save_model(model, out_dir)
            mark = " *saved*"
        print(f"[eval] step {step} t={elapsed / 60:.1f}min val_loss {vl:.4f} ppl {math.exp(vl):.1f}{mark}", flush=True)
        last_eval = time.time()

    while True:
        prog = progress()
        if prog >= 1.0 or (args.max_steps > 0 and step >= args.max_steps) or (time.time() - t0) >= budget:
            break
        lr = lr_at(prog, args.warmup, args.lr, args.final_lr_ratio)
        for g in opt.param_groups:
            g["lr"] = lr
        starts = torch.randint(0, len(train) - args.block_size - 1, (args.batch_size,), generator=gen)
        batch = torch.stack([train[s : s + args.block_size + 1] for s in starts.tolist()])
        x, y = batch[:, :-1], batch[:, 1:]
        with torch.autocast("cpu", dtype=torch.bfloat16, enabled=args.bf16):
            if prog < args.corpus_vocab_frac:
                loss = restricted_loss(model, x, remap[y], keep)
            else:
                logits = model(input_ids=x).logits
                loss = F.cross_entropy(logits.reshape(-1, logits.size(-1)).float(), y.reshape(-1))
        opt.zero_grad(set_to_none=True)
        loss.backward()
        torch.nn.utils.clip_grad_norm_(model.parameters(), args.grad_clip)
        opt.step()
        step += 1
        running += float(loss.detach())
        running_n += 1
        if step % args.log_every == 0:
            el = time.time() - t0
            print(
                f"step {step} t={el / 60:.1f}min lr {lr:.2e} train_loss {running / running_n:.4f} "
                f"{step * stats.tokens_per_step / el:.0f} tok/s{' [corpus-vocab]' if prog < args.corpus_vocab_frac else ''}",
                flush=True,
            )
            running, running_n = 0.0, 0
        if time.time() - last_eval >= args.eval_every_seconds:
            do_eval()

    stats.steps = step
    stats.tokens_seen = step * stats.tokens_per_step
    stats.seconds = time.time() - t0
    do_eval(final=True)
    finalize(out_dir, train, keep, heldout_ids, stats, args.seed)
    summary = write_card(out_dir, stats, threads_note)
    print(
        f"done: {step} steps, {stats.seconds / 60:.1f} min, best step {stats.best_step}, "
        f"val_loss {summary['val_loss']} ppl {summary['val_perplexity']}",
        flush=True,
    )
    for r in summary["samples"]:
        print(f"  {r['prompt']!r} -> {r['token']!r} ({r['prob']:.3f})", flush=True)
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
