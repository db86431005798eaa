"""The torch library the app loads ahead (off the GUI thread's critical path) is the one torch then uses."""

from __future__ import annotations

import subprocess
import sys
from pathlib import Path

import pytest


@pytest.mark.skipif(sys.platform != "linux", reason="reads /proc/self/maps")
def test_torchs_library_loaded_ahead_is_the_one_torch_then_uses():
    code = (
        "from gpt2q_desktop.app.preload import preload_libraries\n"
        "loaded = preload_libraries()\n"
        "import torch\n"
        "maps = {line.split()[-1] for line in open('/proc/self/maps') if 'libtorch_cpu' in line}\n"
        "print(len(loaded), len(maps), float(torch.ones(3).sum()))\n"
    )
    root = Path(__file__).resolve().parents[2]
    done = subprocess.run([sys.executable, "-c", code], cwd=root, capture_output=True, text=True, timeout=300)
    assert done.returncode == 0, done.stderr[-3000:]
    assert done.stdout.split() == ["1", "1", "3.0"]  # loaded ahead, mapped once, and torch computes
