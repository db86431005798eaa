"""The INT8 model to take away: a folder that runs with plain ``onnxruntime`` + ``tokenizers`` + numpy, no gpt2q.

It holds ``model.onnx`` (the INT8 generation graph with its KV cache, :mod:`ort.step`), ``config.json``,
``tokenizer.json``, ``generate.py`` (``python generate.py "PROMPT" 20`` prints the greedy continuation, one decode
step a token) and a ``README.md`` whose Python snippet prints the next token of a prompt.
"""

from __future__ import annotations

import json
import os
import shutil
import tempfile
from collections.abc import Sequence
from pathlib import Path
from typing import Any

from gpt2q_desktop.core.errors import Gpt2qError, reason_of
from gpt2q_desktop.core.results import QuantizeReport
from gpt2q_desktop.core.store.durable import replace_retrying

MODEL, CONFIG, TOKENIZER, README, GENERATE = "model.onnx", "config.json", "tokenizer.json", "README.md", "generate.py"

SNIPPET = """import json
import sys

import numpy as np
import onnxruntime as ort
from tokenizers import Tokenizer

prompt = sys.argv[1] if len(sys.argv) > 1 else "The quick brown fox"
config = json.load(open("config.json", encoding="utf-8"))
heads, head_dim = config["n_head"], config["n_embd"] // config["n_head"]
tokenizer = Tokenizer.from_file("tokenizer.json")
session = ort.InferenceSession("model.onnx", providers=["CPUExecutionProvider"])
ids = tokenizer.encode(prompt, add_special_tokens=False).ids
empty = np.zeros((1, heads, 0, head_dim), dtype=np.float32)  # no past yet: each block's keys and values
past = {i.name: empty for i in session.get_inputs() if i.name.startswith("past_key_values.")}
feed = {"input_ids": np.array([ids], dtype=np.int64), "positions": np.array([len(ids) - 1], dtype=np.int64), **past}
logits = session.run(None, feed)[0]  # [1, 1, vocab]: the logits at the last position only
print(repr(tokenizer.decode([int(logits[0, -1].argmax())])))
"""

GENERATE_PY = """\"\"\"Greedy continuation of a prompt with this folder's INT8 model, one step per token (KV cache).

    python generate.py "PROMPT" [TOKENS]

prints the continuation (TOKENS new tokens, default 20), and on stderr the milliseconds per token. Needs only
onnxruntime, tokenizers and numpy.
\"\"\"

import json
import sys
import time
from pathlib import Path

import numpy as np
import onnxruntime as ort
from tokenizers import Tokenizer

HERE = Path(__file__).resolve().parent


def generate(prompt: str, n_tokens: int) -> tuple[list[int], list[float]]:
    \"\"\"The greedy continuation's token ids and each step's milliseconds.\"\"\"
    config = json.loads((HERE / "config.json").read_text(encoding="utf-8"))
    heads, head_dim, context = config["n_head"], config["n_embd"] // config["n_head"], config["n_positions"]
    tokenizer = Tokenizer.from_file(str(HERE / "tokenizer.json"))
    session = ort.InferenceSession(str(HERE / "model.onnx"), providers=["CPUExecutionProvider"])
    n_tokens = max(1, min(n_tokens, context - 1))
    ids = tokenizer.encode(prompt, add_special_tokens=False).ids[-(context - n_tokens):]  # the prompt's end fits
    if not ids:
        sys.exit("The prompt tokenizes to nothing.")
    empty = np.zeros((1, heads, 0, head_dim), dtype=np.float32)
    past = {i.name: empty for i in session.get_inputs() if i.name.startswith("past_key_values.")}
    presents = [o.name for o in session.get_outputs()][1:]  # present.{i}.key / .value: the next step's past
    new: list[int] = []
    ms: list[float] = []
    for _ in range(n_tokens):
        start = time.perf_counter()
        feed = {"input_ids": np.array([ids], dtype=np.int64), "positions": np.array([len(ids) - 1], dtype=np.int64)}
        logits, *grown = session.run(None, {**feed, **past})
        past = {name.replace("present.", "past_key_values."): value for name, value in zip(presents, grown)}
        ids = [int(logits[0, -1].argmax())]  # only the new token is fed next: the past holds the rest
        new.append(ids[0])
        ms.append((time.perf_counter() - start) * 1000.0)
    return new, ms


if __name__ == "__main__":
    text = sys.argv[1] if len(sys.argv) > 1 else "The quick brown fox"
    tokens, ms = generate(text, int(sys.argv[2]) if len(sys.argv) > 2 else 20)
    print(Tokenizer.from_file(str(HERE / "tokenizer.json")).decode(tokens))
    later = sorted(ms[1:]) or ms
    print(f"prompt {ms[0]:.1f} ms, then {later[len(later) // 2]:.1f} ms per token (median)", file=sys.stderr)
"""


class ExportError(Gpt2qError):
    """The export folder cannot be used as it is."""


def _inside(out: Path, folders: Sequence[Path]) -> Path | None:
    """The first of *folders* that *out* is, or is inside, once links are resolved (None: none of them)."""
    try:
        real = out.resolve()
    except (OSError, RuntimeError):  # RuntimeError: a symlink loop (Python < 3.13); refused as not writable
        return None
    for folder in folders:
        try:
            root = folder.resolve()
        except (OSError, RuntimeError):
            continue
        if real == root or root in real.parents:
            return folder
    return None


def _write_problem(out: Path) -> str | None:
    """Why the export could not write into *out* (or create it), found by making and removing a temporary folder
    in it, or in the nearest folder above it that exists; None if it can."""
    existing = out
    while not os.path.lexists(existing) and existing.parent != existing:
        existing = existing.parent
    if not existing.is_dir():
        return f"{existing} is not a folder" + (f", so {out} cannot be created" if existing != out else "")
    try:
        os.rmdir(tempfile.mkdtemp(dir=existing, prefix=".gpt2q-probe-"))
    except OSError as exc:
        return f"{existing} is not writable ({reason_of(exc)})"
    return None


def check_destination(out: Path, overwrite: bool, data_folders: Sequence[Path] = ()) -> None:
    """Refuse, before any work: a folder inside any of *data_folders* (gpt2q's data folder and cache: an export
    there would pass for a cache entry, be deleted by ``cache clear`` or overwrite an entry, ``--force`` or not), a
    file, a folder that already holds something unless *overwrite*, and a place that cannot be written."""
    inside = _inside(out, data_folders)
    if inside is not None:
        raise ExportError(
            f"{out} is inside gpt2q's data folder {inside} (the model cache and the history live there): "
            "choose a folder outside it."
        )
    if out.exists() and not out.is_dir():
        raise ExportError(f"{out} is a file: choose a folder to export into.")
    try:
        full = out.is_dir() and any(out.iterdir())
    except OSError as exc:
        raise ExportError(f"Cannot export to {out}: it cannot be listed ({reason_of(exc)}).") from exc
    if full and not overwrite:
        raise ExportError(f"The folder {out} is not empty: choose an empty folder, or allow overwriting (--force).")
    problem = _write_problem(out)
    if problem is not None:
        raise ExportError(f"Cannot export to {out}: {problem}.")


def _readme(name: str, report: QuantizeReport) -> str:
    return f"""# {name}: INT8 for ONNX Runtime

Exported by gpt2q-desktop from the checkpoint `{name}`: ONNX Runtime dynamic INT8 ({report.recipe_options.describe()});
{report.layers_quantized} of {report.layers_eligible} weight matrices INT8, {report.embeddings_int8} embedding INT8;
file {report.int8_bytes / 1e6:.1f} MB ({report.size_ratio:.0%} of the FP32 graph's {report.fp32_bytes / 1e6:.1f} MB).

The graph is one generation step with a KV cache. It takes `input_ids` [1, seq] and `positions` [k] (int64),
and each block's past keys and values, `past_key_values.{{i}}.key` and `.value` [1, heads, past, head_dim] (float32;
past 0 for a prompt). It returns the logits at those positions of the new tokens, [1, k, vocab], and each block's
keys and values grown by the new tokens, `present.{{i}}.key` and `.value`: the next step feeds only its new token
with those as its past.

Needs only `pip install onnxruntime tokenizers numpy`. The greedy continuation of a prompt, 20 tokens:

```text
python generate.py "The quick brown fox" 20
```

The next token of a prompt, from this folder:

```python
{SNIPPET}```
"""


def _write(path: Path, data: str | None = None, source: Path | None = None) -> None:
    """Write *data* (or copy *source*) to *path* through a temporary name, so no half file is left."""
    tmp = path.with_name(f".{path.name}.tmp")
    try:
        if source is not None:
            shutil.copyfile(source, tmp)
        else:
            tmp.write_text(data or "", encoding="utf-8")
        replace_retrying(tmp, path)
    except BaseException:
        tmp.unlink(missing_ok=True)
        raise


def write_takeaway(out: Path, int8_graph: Path, config: dict[str, Any], tokenizer: Any, name: str, report: QuantizeReport) -> Path:
    """Write the take-away folder *out* (created if needed; files already there are replaced, others kept)."""
    try:
        out.mkdir(parents=True, exist_ok=True)
        _write(out / MODEL, source=int8_graph)
        _write(out / CONFIG, json.dumps(config, indent=2, sort_keys=True) + "\n")
        tokenizer.backend_tokenizer.save(str(out / f".{TOKENIZER}.tmp"))
        replace_retrying(out / f".{TOKENIZER}.tmp", out / TOKENIZER)
        _write(out / GENERATE, GENERATE_PY)
        _write(out / README, _readme(name, report))
    except OSError as exc:
        raise ExportError(f"Could not write the export to {out} ({reason_of(exc)}).") from exc
    return out
