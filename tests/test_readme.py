"""The README: its two set-up commands (CI runs the test one as written), and its sample outputs, which are what
the code prints now, times aside.

A sample is a ```text block holding lines that start with ``$ ``: each such line is a command, and the lines up to
the next command are what it prints. ``$ gpt2q …`` runs in this process on the test's own data folder; its
expected lines are its stdout, or its stderr (progress lines left out) when it fails. ``$ echo $?`` prints the
exit code of the command before it; a command not followed by one must exit 0. Blocks fenced as ```console are
not run (the README says where their figures come from).

"Times aside": timings, speedups, thread counts and the data folder's path differ from machine to machine and run
to run, so they are masked on both sides (:func:`normalized`); tokens, probabilities, KL, counts and sizes are
compared as printed.
"""

from __future__ import annotations

import contextlib
import difflib
import io
import re
import shlex
from dataclasses import dataclass, field
from pathlib import Path

import pytest

ROOT = Path(__file__).resolve().parents[1]
README = ROOT / "README.md"
SHOWN_DATA_DIR = "~/.local/share/gpt2q-desktop"
"""Where the README's samples say the data folder is (Linux's default)."""


def test_two_setup_commands_and_ci_runs_the_test_one() -> None:
    readme = README.read_text(encoding="utf-8")
    setup = readme.split("## Set up", 1)[1].split("\n## ", 1)[0]
    launch, test = re.findall(r"```bash\n(.+?)\n```", setup, flags=re.S)
    assert launch.endswith(".venv/bin/gpt2q-desktop") and "pip install -e ." in launch
    assert test.endswith("python -m pytest") and "[test]" in test
    assert test in (ROOT / ".ci" / "run").read_text(encoding="utf-8")


# -- the samples ------------------------------------------------------------------------------------------------


@dataclass
class Command:
    """One ``$ …`` line of a sample and the lines the README shows under it."""

    line: int
    """Its line number in the README."""
    text: str
    expected: list[str] = field(default_factory=list)


def samples(markdown: str) -> list[Command]:
    """Every command of every sample block (```text blocks with ``$ `` lines), in the README's order."""
    commands: list[Command] = []
    fence: str | None = None  # the open block's language, if a block is open
    current: Command | None = None  # the command whose output is being read
    for number, line in enumerate(markdown.splitlines(), 1):
        if line.startswith("```"):
            fence, current = (line[3:].strip() if fence is None else None), None
        elif fence == "text" and line.startswith("$ "):
            current = Command(number, line[2:])
            commands.append(current)
        elif current is not None:
            current.expected.append(line)
    for command in commands:
        while command.expected and not command.expected[-1].strip():
            command.expected.pop()
    return commands


PROGRESS = re.compile(r"^\[\s*\d+/\d+\] ")
TABLE_MASKED = {"threads", "median ms", "p90 ms", "speedup"}
"""The columns of a compare or history table that hold times or the machine's thread count."""


def normalized(lines: list[str], data_dir: str | None = None) -> list[str]:
    """*lines* with what varies between machines and runs masked: the data folder's path, durations (``0.71 s``,
    ``8.12 ms``), speedups (``2.66×``), the timing columns and thread count of a compare table, a noisy run's marks. A table
    row becomes its cells joined by `` | ``, so column widths that follow a masked figure do not matter."""
    out: list[str] = []
    masked: list[int] | None = None  # the masked columns of the table being read, if any
    width = 0
    for line in lines:
        if data_dir:
            line = line.replace(data_dir, SHOWN_DATA_DIR)
        line = line.rstrip()
        if line.startswith("NOISY:"):
            continue  # a noisy run's cause and fix (a timing verdict)
        cells = re.split(r" {2,}", line.strip())
        if cells[0] == "prompt" and "median ms" in cells:
            masked, width = [i for i, c in enumerate(cells) if c in TABLE_MASKED], len(cells)
        elif masked is not None and len(cells) == width:
            if set(line.strip()) <= {"-", " "}:
                cells = ["-"] * width
            else:
                cells = ["…" if i in masked else c for i, c in enumerate(cells)]
        else:
            masked = None
        if masked is not None:
            line = " | ".join(cells)
        line = re.sub(r"\d+\.\d+ s\b", "… s", line)
        line = re.sub(r"\d+\.\d+×", "…×", line)
        line = re.sub(r"\d+\.\d+ ms\b", "… ms", line)  # generate's milliseconds per token
        line = re.sub(r", \d+ threads?:$", ", … threads:", line)  # generate's thread count
        line = re.sub(r" \(\d+ noisy rows? left out\)", "", line)
        line = line.replace("speedup unreliable", "median speedup …×")
        out.append(line)
    while out and not out[-1]:
        out.pop()
    return out


def run_gpt2q(argv: list[str]) -> tuple[int, str, str]:
    """``gpt2q argv`` in this process: exit code, stdout and stderr."""
    from gpt2q_desktop.cli.main import main

    stdout, stderr = io.StringIO(), io.StringIO()
    with contextlib.redirect_stderr(stderr):
        try:
            code = main(argv, out=stdout)
        except SystemExit as exc:  # argparse refusing the arguments
            code = exc.code if isinstance(exc.code, int) else 1
    return code, stdout.getvalue(), stderr.getvalue()


@pytest.mark.slow  # every command of the README on the demo student, as a user runs them
def test_readme_samples_print_what_the_code_prints(data_dir: Path) -> None:
    from gpt2q_desktop.core.torch_int8.kernels import chosen_kernels

    if chosen_kernels() != "fbgemm":  # an ARM processor, or GPT2Q_INT8_KERNELS
        pytest.skip("the samples were printed on fbgemm's INT8 kernels (x86); others round differently")
    commands = samples(README.read_text(encoding="utf-8"))
    run = {shlex.split(c.text, comments=True)[1] for c in commands if c.text.startswith("gpt2q ")}
    assert {"quantize", "compare", "eval", "sensitivity", "cache", "history"} <= run, f"samples found: {run}"

    failures: list[str] = []
    last_code: int | None = None
    for i, command in enumerate(commands):
        words = shlex.split(command.text, comments=True)
        if words == ["echo", "$?"]:
            actual = [str(last_code)]
        elif words[0] == "gpt2q":
            code, stdout, stderr = run_gpt2q(words[1:])
            following = commands[i + 1].text.strip() if i + 1 < len(commands) else ""
            if code != 0 and following != "echo $?":
                failures.append(f"README line {command.line}: `{command.text}` exited {code}:\n{stderr}")
                continue
            shown = stdout if code == 0 else stderr
            actual = [line for line in shown.splitlines() if not PROGRESS.match(line)]
            last_code = code
        else:
            pytest.fail(f"README line {command.line}: a sample runs `gpt2q …` or `echo $?`, not `{command.text}`")
        want, got = normalized(command.expected), normalized(actual, str(data_dir))
        if want != got:
            diff = "\n".join(difflib.unified_diff(want, got, "README", "printed", lineterm=""))
            failures.append(f"README line {command.line}: `{command.text}`, times aside:\n{diff}")
    assert not failures, "\n\n".join(failures)


def test_masks_hide_times_not_results() -> None:
    """Timings, speedups and the thread count are masked; a token, a probability or a KL is not."""
    head = "prompt      runtime  threads  FP32 token    p      median ms  p90 ms  INT8 token    p      median ms  p90 ms  agree  KL        speedup"
    dash = "----------  -------  -------  ------------  -----  ---------  ------  ------------  -----  ---------  ------  -----  --------  -------"
    row = "I am        PyTorch  1        ␣sure (1654)  0.358  9.02       9.41    ␣sure (1654)  0.360  3.58       3.86    yes    3.46e-04  2.52×"
    slower = "I am        PyTorch  3        ␣sure (1654)  0.358  109.02     9.41    ␣sure (1654)  0.360  3.58       3.86    yes    3.46e-04  2.06× NOISY"
    tail = "1 prompt: top-1 agreement 1/1, mean KL 3.46e-04, median speedup 2.52×"
    assert normalized([head, dash, row, tail]) == normalized([head, dash, slower, tail.replace("2.52", "3.10")])
    for changed in ("0.358", "(1654)", "3.46e-04", "yes"):
        other = row.replace(changed, {"yes": "NO "}.get(changed, changed[:-2] + "9" + changed[-1:]), 1)
        assert normalized([head, dash, row]) != normalized([head, dash, other]), changed
    quantized = "17/17 linear layers INT8, 2 embeddings INT8; FP32 64.4 MB → INT8 16.3 MB (25% of FP32); in 0.71 s"
    assert normalized([quantized]) == normalized([quantized.replace("0.71", "12.50")])
    assert normalized([quantized]) != normalized([quantized.replace("16.3", "16.4")])
    assert normalized(["/tmp/x/cache: 1 entry"], "/tmp/x") == [f"{SHOWN_DATA_DIR}/cache: 1 entry"]
    steps = ["PyTorch, greedy, 1 thread:", "  INT8  first token 8.12 ms, then median 7.02 ms, p90 7.90 ms per token"]
    assert normalized(steps) == normalized(
        [steps[0].replace("1 thread", "3 threads"), steps[1].replace("7.02", "12.50")]
    )
    assert normalized(["  INT8  It was│ a"]) != normalized(["  INT8  It was│ the"])
