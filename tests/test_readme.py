"""The README's two set-up commands: exactly two, and CI runs the test command as written."""

from __future__ import annotations

import re
from pathlib import Path

ROOT = Path(__file__).resolve().parents[1]


def test_two_setup_commands_and_ci_runs_the_test_one() -> None:
    readme = (ROOT / "README.md").read_text(encoding="utf-8")
    setup = readme.split("## Set up", 1)[1].split("\n## ", 1)[0]
    launch, test = re.findall(r"```bash\n(.+?)\n```", setup, flags=re.S)
    assert launch.endswith(".venv/bin/gpt2q-desktop") and "pip install -e ." in launch
    assert test.endswith("python -m pytest") and "[test]" in test
    assert test in (ROOT / ".ci" / "run").read_text(encoding="utf-8")
