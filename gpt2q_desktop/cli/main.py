"""``gpt2q``: quantize a GPT-2 student and compare FP32 with INT8 from the command line.

Progress and notes go to stderr, results to stdout. Exit codes: 0 success (a reader that closed the pipe early,
as ``| head`` does, included), 2 user error (one line, no traceback), 130 interrupted. Text the terminal's
encoding cannot show (a Windows console or pipe in cp1252) is written as backslash escapes instead of ending the
command; files the commands write are UTF-8 whatever the terminal's encoding.
"""

from __future__ import annotations

import logging
import os
import sys
from collections.abc import Sequence
from typing import TextIO

from gpt2q_desktop.core.errors import Gpt2qError
from gpt2q_desktop.core.platforms import torch_load_problem

from .commands import cmd_bench, cmd_compare, cmd_eval, cmd_export, cmd_quantize, cmd_sensitivity
from .generate import cmd_generate
from .output import err
from .stores import cmd_cache, cmd_history

log = logging.getLogger("gpt2q")

COMMANDS = {
    "quantize": cmd_quantize,
    "compare": cmd_compare,
    "export": cmd_export,
    "generate": cmd_generate,
    "bench": cmd_bench,
    "eval": cmd_eval,
    "sensitivity": cmd_sensitivity,
    "cache": cmd_cache,
    "history": cmd_history,
}


def _never_fail_on_encoding() -> None:
    """Escape what the terminal's encoding cannot show, on stdout and stderr alike."""
    for stream in (sys.stdout, sys.stderr):
        reconfigure = getattr(stream, "reconfigure", None)
        if reconfigure is not None:
            reconfigure(errors="backslashreplace")


def _stdout_closed() -> int:
    """The reader went away (``gpt2q history | head -1``): stop quietly, as Unix tools do. Python would report the
    failed flush at exit, so stdout is pointed at the null device first."""
    try:
        devnull = os.open(os.devnull, os.O_WRONLY)
        os.dup2(devnull, sys.stdout.fileno())
    except (OSError, ValueError):  # no file descriptor behind stdout (a test's stream): nothing to flush
        pass
    return 0


def main(argv: Sequence[str] | None = None, out: TextIO | None = None) -> int:
    from .parser import build_parser

    _never_fail_on_encoding()
    args = build_parser().parse_args(argv)
    from gpt2q_desktop.core.logs import setup_logging

    setup_logging(args.verbose)
    try:
        code = COMMANDS[args.command](args, out or sys.stdout)
        (out or sys.stdout).flush()
        return code
    except BrokenPipeError:
        return _stdout_closed()
    except Gpt2qError as exc:
        log.debug("user error", exc_info=True)
        err(f"gpt2q: error: {exc}")
        return 2
    except Exception as exc:
        problem = torch_load_problem(exc)  # Windows without the Visual C++ runtime: one line, what to install
        if problem is None:
            raise
        log.debug("torch did not load", exc_info=True)
        err(f"gpt2q: error: {problem}")
        return 2
    except KeyboardInterrupt:
        print("\ngpt2q: cancelled; the cache holds only complete entries (written whole or not at all).", file=sys.stderr)
        return 130
