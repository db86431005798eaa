"""The INT8 kernels: chosen by the platform (fbgemm on x86, qnnpack on ARM) or by GPT2Q_INT8_KERNELS, before anything
quantized is built or loaded, and named in reports, rows and cache keys. This x86 torch has both, so the ARM path
(qnnpack) runs here, in fresh processes where no engine was chosen before."""

from __future__ import annotations

import contextlib
import io
import json
import os
import platform
import subprocess
import sys
from pathlib import Path

import pytest
import torch

from gpt2q_desktop.cli.main import main
from gpt2q_desktop.core.checkpoints.synthetic import save_checkpoint
from gpt2q_desktop.core.options import RecipeOptions
from gpt2q_desktop.core.runtimes import Kernels
from gpt2q_desktop.core.session import Session
from gpt2q_desktop.core.store.model_cache import QuantCache
from gpt2q_desktop.core.torch_int8 import kernels
from gpt2q_desktop.core.torch_int8.kernels import KERNELS_ENV, KernelsError, chosen_kernels, platform_kernels

pytestmark = pytest.mark.skipif(
    not {"fbgemm", "qnnpack"} <= set(torch.backends.quantized.supported_engines), reason="needs an x86 build of torch"
)
FAST = ["--repeats", "2", "--warmup", "0", "--threads", "1"]


@pytest.mark.parametrize(
    ("machine", "kernels"),
    [("x86_64", "fbgemm"), ("AMD64", "fbgemm"), ("arm64", "qnnpack"), ("aarch64", "qnnpack"), ("riscv64", None)],
)
def test_the_platform_chooses(machine: str, kernels: str | None) -> None:
    assert platform_kernels(machine) == kernels


def test_the_environment_overrides_and_a_bad_value_is_one_line(monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setenv(KERNELS_ENV, " QNNPACK ")
    assert chosen_kernels() is Kernels.QNNPACK
    monkeypatch.setenv(KERNELS_ENV, "")
    assert chosen_kernels() is platform_kernels()
    monkeypatch.setenv(KERNELS_ENV, "tpu")
    with pytest.raises(KernelsError, match=r"^GPT2Q_INT8_KERNELS=tpu names no INT8 kernels gpt2q knows"):
        chosen_kernels()
    monkeypatch.setattr(kernels, "supported_engines", lambda: ["qnnpack", "none"])  # Apple Silicon's torch
    monkeypatch.setattr(platform, "machine", lambda: "arm64")
    monkeypatch.setenv(KERNELS_ENV, "fbgemm")
    with pytest.raises(
        KernelsError, match=r"=fbgemm: this build of torch has no fbgemm INT8 kernels \(it has qnnpack\)"
    ):
        chosen_kernels()
    monkeypatch.delenv(KERNELS_ENV)
    assert chosen_kernels() is Kernels.QNNPACK


def test_a_bad_value_stops_the_cli_with_one_line(
    monkeypatch: pytest.MonkeyPatch, capsys, tiny_checkpoint: Path
) -> None:
    monkeypatch.setenv(KERNELS_ENV, "tpu")
    said = "gpt2q: error: GPT2Q_INT8_KERNELS=tpu names no INT8 kernels gpt2q knows: set one of fbgemm, x86, qnnpack, or unset it."  # noqa: E501
    for argv in (["quantize", str(tiny_checkpoint)], ["bench", "--no-demo"], ["compare", "--prompt", "The sky is"]):
        assert main(argv) == 2
        assert capsys.readouterr().err.splitlines() == [said], argv


def test_kernels_are_part_of_the_cache_key_and_named_by_the_report(
    monkeypatch: pytest.MonkeyPatch, tiny_checkpoint: Path
) -> None:
    reports = {}
    for chosen in ("fbgemm", "qnnpack", "fbgemm"):
        monkeypatch.setenv(KERNELS_ENV, chosen)
        session = Session()
        session.open(tiny_checkpoint)
        reports.setdefault(chosen, []).append(session.quantize(RecipeOptions()))
        assert session.kernels == chosen
    (fbgemm, again), (qnnpack,) = reports["fbgemm"], reports["qnnpack"]
    assert fbgemm.cache_key != qnnpack.cache_key and not qnnpack.cache_hit  # never the fbgemm model
    assert again.cache_hit and again.cache_key == fbgemm.cache_key
    assert (fbgemm.kernels, qnnpack.kernels) == ("fbgemm", "qnnpack")
    assert " on qnnpack kernels," in qnnpack.summary() and qnnpack.as_dict()["kernels"] == "qnnpack"
    assert json.loads((Path(qnnpack.cache_dir) / "manifest.json").read_text())["kernels"] == "qnnpack"
    listed = {entry.key: entry for entry in QuantCache().entries()}
    assert listed[qnnpack.cache_key].describe().startswith("PyTorch (qnnpack) INT8: ")
    assert listed[fbgemm.cache_key].as_dict()["kernels"] == "fbgemm"


def _seed_folder(source: Path, out: Path) -> Path:
    """A seed-style INT8 folder (quantize_dynamic on the unconverted model: lm_head only) of *source*."""
    from torch.ao.quantization import quantize_dynamic

    from gpt2q_desktop.core.checkpoints.checkpoint import load_checkpoint
    from gpt2q_desktop.core.quiet import quiet_torch

    model = load_checkpoint(source).model
    folder = save_checkpoint(model, out, weights="bin")
    with quiet_torch():
        seed = quantize_dynamic(model, {torch.nn.Linear}, dtype=torch.qint8)
    torch.save(seed.state_dict(), folder / "pytorch_model.bin")
    return folder


TOP_TOKENS = """
import json, sys, torch
from gpt2q_desktop.core.checkpoints.checkpoint import load_checkpoint
from gpt2q_desktop.core.options import RecipeOptions
from gpt2q_desktop.core.torch_int8.recipe import DynamicInt8Recipe

loaded = load_checkpoint(sys.argv[1])
ids = loaded.tokenizer("The sky is", return_tensors="pt")["input_ids"]
int8 = DynamicInt8Recipe().quantize(loaded.model, RecipeOptions())
models = {"seed": loaded.seed_int8_model, "recipe": int8}
with torch.inference_mode():
    top = {name: int(m(input_ids=ids).logits[0, -1].argmax()) for name, m in models.items()}
print(json.dumps({"engine": torch.backends.quantized.engine, **top}))
"""


ON_QNNPACK = """
import contextlib, io, json, sys, torch
from gpt2q_desktop.cli.main import main

fresh = torch.backends.quantized.engine  # the engine of a process in which nothing has chosen one
seed, checkpoint, fast = sys.argv[1], sys.argv[2], sys.argv[3:]
printed = io.StringIO()
with contextlib.redirect_stdout(printed):
    exec(TOP_TOKENS, {})
answers = {"top_tokens": json.loads(printed.getvalue())}
for name, argv in (
    ("compare", ["compare", seed, "--prompt", "The sky is", "--format", "json", *fast]),
    ("quantize", ["quantize", checkpoint, "--json"]),
):
    torch.backends.quantized.engine = fresh
    printed = io.StringIO()
    answers[name] = [main(argv, out=printed), json.loads(printed.getvalue())]
print(json.dumps(answers))
"""


@pytest.fixture(scope="module")
def on_qnnpack(tmp_path_factory: pytest.TempPathFactory, trained_checkpoint: Path) -> tuple[Path, dict]:
    """A seed INT8 folder of the trained checkpoint, and what a fresh process with ``GPT2Q_INT8_KERNELS=qnnpack``
    answered: the seed loader's and the recipe's top tokens (:data:`TOP_TOKENS`), then ``gpt2q compare`` on the
    seed folder and ``gpt2q quantize`` of the checkpoint (``[exit code, JSON]``), each begun on the engine of a
    process that has chosen none (one interpreter instead of three)."""
    root = tmp_path_factory.mktemp("qnnpack")
    seed = _seed_folder(trained_checkpoint, root / "seed-int8")
    code = f"TOP_TOKENS = {TOP_TOKENS!r}\n{ON_QNNPACK}"
    env = dict(os.environ, **{KERNELS_ENV: "qnnpack", "GPT2Q_DATA_DIR": str(root / "data")})
    args = [sys.executable, "-c", code, str(seed), str(trained_checkpoint), *FAST]
    proc = subprocess.run(args, capture_output=True, text=True, env=env, timeout=300, check=False)
    assert proc.returncode == 0, proc.stderr
    return seed, json.loads(proc.stdout.splitlines()[-1])


def test_the_seed_loader_and_the_recipe_on_qnnpack_agree_with_fbgemm(
    on_qnnpack: tuple[Path, dict], monkeypatch: pytest.MonkeyPatch
) -> None:
    """In a fresh process nothing has chosen an engine: the seed loader builds its lm_head on the kernels chosen."""
    seed, answers = on_qnnpack
    printed = io.StringIO()  # fbgemm's answer from this process
    monkeypatch.setenv(KERNELS_ENV, "fbgemm")
    monkeypatch.setattr(sys, "argv", ["-c", str(seed)])
    with contextlib.redirect_stdout(printed):
        exec(TOP_TOKENS, {})
    qnnpack, fbgemm = answers["top_tokens"], json.loads(printed.getvalue())
    assert qnnpack["engine"] == "qnnpack" and fbgemm["engine"] == "fbgemm"
    assert {k: v for k, v in qnnpack.items() if k != "engine"} == {k: v for k, v in fbgemm.items() if k != "engine"}


def test_the_cli_on_qnnpack_says_so_in_json(
    on_qnnpack: tuple[Path, dict], trained_checkpoint: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    """compare on a seed INT8 folder and quantize, begun on a fresh process's engine: their JSON names qnnpack;
    the INT8 token is fbgemm's."""
    seed, answers = on_qnnpack
    code, qnnpack_rows = answers["compare"]
    printed = io.StringIO()
    monkeypatch.setenv(KERNELS_ENV, "fbgemm")
    assert code == 0 and main(["compare", str(seed), "--prompt", "The sky is", "--format", "json", *FAST], out=printed) == 0
    fbgemm_rows = json.loads(printed.getvalue())  # fbgemm in this process
    assert [r["kernels"] for r in qnnpack_rows] == ["qnnpack"] and fbgemm_rows[0]["kernels"] == "fbgemm"
    assert qnnpack_rows[0]["int8"]["token_id"] == fbgemm_rows[0]["int8"]["token_id"]
    code, report = answers["quantize"]
    assert code == 0 and report["kernels"] == "qnnpack" and report["runtime"] == "torch"
