"""The bundled demo student: loads safely, predicts what its model card records, and survives INT8."""

from __future__ import annotations

import json
import re

import pytest
import torch

from gpt2q_desktop.core.checkpoints.checkpoint import load_checkpoint
from gpt2q_desktop.core.measure.inference import encode_prompt, last_logits
from gpt2q_desktop.core.options import RecipeOptions
from gpt2q_desktop.core.paths import demo_heldout_text, demo_student_dir
from gpt2q_desktop.core.torch_int8.recipe import DynamicInt8Recipe

DEMO = demo_student_dir()
CONTEXTS, CONTEXT_TOKENS = 200, 48


@pytest.fixture(scope="module")
def demo():
    loaded = load_checkpoint(DEMO)
    return loaded, DynamicInt8Recipe().quantize(loaded.model, RecipeOptions())


def test_folder_is_a_plain_hugging_face_folder_under_40_mb() -> None:
    from transformers import AutoTokenizer, GPT2LMHeadModel

    assert sum(f.stat().st_size for f in DEMO.iterdir()) <= 40 * 2**20
    model = GPT2LMHeadModel.from_pretrained(DEMO, local_files_only=True)
    tok = AutoTokenizer.from_pretrained(DEMO, local_files_only=True)
    assert model.config.model_type == "gpt2" and tok("Hello world")["input_ids"] == [15496, 995]


def test_loads_through_the_safe_loader_as_fp32(demo) -> None:
    loaded, _ = demo
    assert loaded.info.weight_format == "safetensors" and loaded.info.tokenizer_source == "checkpoint folder"
    assert all(p.dtype == torch.float32 for p in loaded.model.parameters()), "fp16 storage is upcast"


def test_predictions_match_the_model_card(demo) -> None:
    loaded, _ = demo
    samples = json.loads((DEMO / "training.json").read_text())["samples"]
    assert len(samples) >= 5
    for sample in samples:
        ids = encode_prompt(loaded.tokenizer, sample["prompt"], loaded.info.n_positions).ids
        probs = torch.softmax(last_logits(loaded.model, ids).double(), -1)
        assert int(probs.argmax()) == sample["token_id"], sample["prompt"]
        assert float(probs.max()) == pytest.approx(sample["prob"], abs=2e-3)


@pytest.mark.parametrize("prompt", ["The sky is", "She was", "I am"])
def test_next_token_is_an_english_word_for_fp32_and_int8(demo, prompt: str) -> None:
    loaded, int8 = demo
    ids = encode_prompt(loaded.tokenizer, prompt, loaded.info.n_positions).ids
    for model in (loaded.model, int8):
        token = loaded.tokenizer.decode([int(last_logits(model, ids).argmax())])
        assert re.fullmatch(r" ?[A-Za-z]+", token), (prompt, token)


def test_fp32_and_int8_agree_on_held_out_contexts(demo) -> None:
    loaded, int8 = demo
    ids = loaded.tokenizer(demo_heldout_text().read_text(encoding="utf-8"))["input_ids"]
    stride = (len(ids) - CONTEXT_TOKENS) // CONTEXTS
    batch = torch.tensor([ids[i * stride : i * stride + CONTEXT_TOKENS] for i in range(CONTEXTS)])
    with torch.inference_mode():
        p = loaded.model(input_ids=batch, logits_to_keep=1).logits[:, -1]
        q = int8(input_ids=batch, logits_to_keep=1).logits[:, -1]
    agreement = float((p.argmax(-1) == q.argmax(-1)).double().mean())
    assert agreement >= 0.95, f"FP32/INT8 top-1 agreement {agreement:.1%} on {CONTEXTS} held-out contexts"


def test_keeping_the_most_sensitive_block_in_fp32_lowers_kl(demo) -> None:
    from gpt2q_desktop.core.measure.quality import evaluate_text, layer_sensitivity

    loaded, int8 = demo
    text = demo_heldout_text().read_text(encoding="utf-8")[:8000]
    window = loaded.info.n_positions
    ranking = layer_sensitivity(loaded.model, loaded.tokenizer, text, window, max_tokens=128)
    worst = next(s.block for s in ranking if s.block is not None)
    spared = DynamicInt8Recipe().quantize(loaded.model, RecipeOptions(exclude_layers=(worst,)))

    def kl(model: torch.nn.Module) -> float:
        return evaluate_text(loaded.model, model, loaded.tokenizer, iter([text]), window, 256).kl_mean

    assert kl(spared) < kl(int8), f"block {worst} kept in FP32"
