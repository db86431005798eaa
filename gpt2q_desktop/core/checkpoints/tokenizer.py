"""GPT-2 tokenizers: found in a folder, checked, built once per content and reused.

Building one holds Python's GIL for 0.2-0.3 s (the ``tokenizers`` library's Rust code and transformers'
wrapper), which a window would feel; the same files (every student that keeps GPT-2's vocabulary) are
therefore built once per process and shared, keyed by the bytes of their files.
"""

from __future__ import annotations

import hashlib
import os
import threading
from collections import OrderedDict
from pathlib import Path
from typing import TYPE_CHECKING

from gpt2q_desktop.core.checkpoints.config import MAX_JSON_CHARS
from gpt2q_desktop.core.errors import TokenizerError
from gpt2q_desktop.core.files import file_problem, open_regular, read_json, read_regular_text

if TYPE_CHECKING:
    from transformers import PreTrainedTokenizerFast

_TOKENIZER_LAYOUTS = (("tokenizer.json",), ("vocab.json", "merges.txt"))
TOKENIZER_FILES = "(tokenizer.json, or vocab.json + merges.txt)"
_TOKENIZER_PROBE = "hello world 0123"  # lower-case ASCII: survives any normaliser a GPT-2 tokenizer may have
_KEEP = 4
"""Tokenizers kept built (a few MB each)."""
_built: OrderedDict[str, tuple[PreTrainedTokenizerFast, int]] = OrderedDict()
"""Built tokenizers by content, each with its largest token id."""
_lock = threading.Lock()


def _tokenizer_files(folder: Path) -> tuple[tuple[Path, ...] | None, str | None]:
    """*folder*'s first complete set of tokenizer files that are all regular files (or None), and what is wrong
    with a set that is there but unusable (a dangling ``tokenizer.json`` beside good vocab + merges is skipped)."""
    problem = None
    for names in _TOKENIZER_LAYOUTS:
        paths = tuple(folder / name for name in names)
        if all(os.path.lexists(p) for p in paths):
            bad = [f"{p} {file_problem(p)}." for p in paths if file_problem(p)]
            if not bad:
                return paths, None
            problem = problem or bad[0]
    return None, problem


def has_tokenizer(folder: Path) -> bool:
    """True when *folder* holds ``tokenizer.json`` or ``vocab.json`` + ``merges.txt`` as regular files."""
    return _tokenizer_files(folder)[0] is not None


def unusable_tokenizer(folder: Path) -> str | None:
    """What is wrong with tokenizer files that are in *folder* but cannot be read (None: none are there)."""
    return _tokenizer_files(folder)[1]


def _check_tokenizer_file(path: Path) -> None:
    """Refuse a tokenizer file that is not UTF-8, or (``.json``) not a JSON object, naming it."""
    try:
        if path.suffix == ".json":
            data = read_json(path, MAX_JSON_CHARS)
        else:
            read_regular_text(path)  # merges.txt: it must be UTF-8 text
            data = {}
    except (OSError, ValueError) as exc:  # ValueError: bad UTF-8 or JSON, too large or too deep
        raise TokenizerError(f"{path} cannot be read as a tokenizer file: {exc}") from exc
    if not isinstance(data, dict) or (path.name == "vocab.json" and not all(type(v) is int for v in data.values())):
        raise TokenizerError(f"{path} is not a GPT-2 tokenizer file (expected a JSON object of tokens).")


def _digest(files: tuple[Path, ...]) -> str:
    """What identifies a tokenizer: its files' names and bytes (hashing large blocks releases the GIL)."""
    h = hashlib.sha256()
    for path in files:
        try:
            with open_regular(path) as fh:
                h.update(path.name.encode() + b"\0" + fh.read())
        except OSError as exc:
            raise TokenizerError(f"{path} cannot be read as a tokenizer file: {exc}") from exc
    return h.hexdigest()


def _build(folder: Path, files: tuple[Path, ...]) -> tuple[PreTrainedTokenizerFast, int]:
    """Check the files, build the tokenizer and make sure it round-trips plain text; the tokenizer and its largest
    token id (what the model's embedding must cover: ids need not be dense, so their count does not tell it)."""
    from transformers import GPT2TokenizerFast

    for path in files:
        _check_tokenizer_file(path)
    names = " + ".join(p.name for p in files)
    try:
        if len(files) == 1:
            tok = GPT2TokenizerFast(tokenizer_file=str(files[0]))
        else:
            tok = GPT2TokenizerFast(vocab=str(files[0]), merges=str(files[1]))
    except Exception as exc:  # tokenizers raises plain Exception subclasses on bad files
        raise TokenizerError(f"The tokenizer {names} in {folder} cannot be read: {exc}") from exc
    if len(tok) < 2:
        raise TokenizerError(f"The tokenizer {names} in {folder} is empty.")
    ids = tok(_TOKENIZER_PROBE)["input_ids"]
    if not ids or tok.decode(ids) != _TOKENIZER_PROBE:
        raise TokenizerError(
            f"The tokenizer {names} in {folder} cannot encode plain text ({_TOKENIZER_PROBE!r}): "
            "it is not a working GPT-2 tokenizer."
        )
    return tok, max(tok.get_vocab().values())


def load_tokenizer(folder: Path, vocab_size: int | None = None) -> PreTrainedTokenizerFast:
    """The GPT-2 tokenizer of ``tokenizer.json`` or ``vocab.json`` + ``merges.txt`` in *folder* (built once per
    content; callers must not change it); refused if it holds more tokens than *vocab_size*, or a token id the
    model's vocabulary of *vocab_size* does not reach (before any prompt could use it)."""
    files, problem = _tokenizer_files(folder)
    if files is None:
        raise TokenizerError(problem or f"{folder} holds no GPT-2 tokenizer {TOKENIZER_FILES}.")
    key = _digest(files)
    with _lock:
        built = _built.get(key)
        if built is None:
            built = _built[key] = _build(folder, files)
            while len(_built) > _KEEP:
                _built.popitem(last=False)
        _built.move_to_end(key)
    tok, largest = built
    if vocab_size is not None and len(tok) > vocab_size:
        raise TokenizerError(
            f"The tokenizer in {folder} has {len(tok):,} tokens but the model only {vocab_size:,}: "
            "they do not belong together."
        )
    if vocab_size is not None and largest >= vocab_size:
        raise TokenizerError(
            f"The tokenizer in {folder} has token ids up to {largest:,} but the model's vocabulary has "
            f"{vocab_size:,} (ids 0 to {vocab_size - 1:,}): they do not belong together."
        )
    return tok
