"""``gpt2q``: quantize a GPT-2 student and compare FP32 with INT8 from the command line.

Progress and notes go to stderr, results to stdout. Exit codes: 0 success, 2 user error (one line,
no traceback), 130 interrupted.
"""

from __future__ import annotations

import logging
import sys
from collections.abc import Sequence
from typing import TextIO

from gpt2q_desktop.core.errors import Gpt2qError

from .commands import cmd_bench, cmd_compare, cmd_eval, cmd_export, cmd_quantize, cmd_sensitivity
from .output import err
from .stores import cmd_cache, cmd_history

log = logging.getLogger("gpt2q")

COMMANDS = {
    "quantize": cmd_quantize,
    "compare": cmd_compare,
    "export": cmd_export,
    "bench": cmd_bench,
    "eval": cmd_eval,
    "sensitivity": cmd_sensitivity,
    "cache": cmd_cache,
    "history": cmd_history,
}


def main(argv: Sequence[str] | None = None, out: TextIO | None = None) -> int:
    from .parser import build_parser

    args = build_parser().parse_args(argv)
    from gpt2q_desktop.core.logs import setup_logging

    setup_logging(args.verbose)
    try:
        return COMMANDS[args.command](args, out or sys.stdout)
    except Gpt2qError as exc:
        log.debug("user error", exc_info=True)
        err(f"gpt2q: error: {exc}")
        return 2
    except KeyboardInterrupt:
        print("\ngpt2q: cancelled; the cache is unchanged.", file=sys.stderr)
        return 130
