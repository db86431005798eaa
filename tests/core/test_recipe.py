"""The recipe really quantizes every block, exactly converts Conv1D, and honours its options."""

from __future__ import annotations

import pytest
import torch
from torch import nn
from transformers.pytorch_utils import Conv1D

from gpt2q_desktop.core.errors import Cancelled, Gpt2qError
from gpt2q_desktop.core.measure.inference import last_logits
from gpt2q_desktop.core.measure.metrics import kl_divergence
from gpt2q_desktop.core.options import RecipeOptions
from gpt2q_desktop.core.torch_int8.modules import (
    Int8Embedding,
    RowScaledLinear,
    convert_all_conv1d,
    count_eligible,
    count_int8_embeddings,
    count_quantized,
    unique_tensor_bytes,
)
from gpt2q_desktop.core.torch_int8.recipe import DynamicInt8Recipe

IDS = torch.tensor([[464, 3290, 318, 4171, 290]])
RECIPE = DynamicInt8Recipe()


def _linears(model: nn.Module) -> list[str]:
    return [n for n, m in model.named_modules() if type(m) is nn.Linear]


def test_conv1d_to_linear_is_exact(tiny_model) -> None:
    import copy

    converted = copy.deepcopy(tiny_model)
    assert convert_all_conv1d(converted) == 4 * 2
    assert not any(isinstance(m, Conv1D) for m in converted.modules())
    # Same weights, transposed: equal up to the kernels' float summation order.
    torch.testing.assert_close(last_logits(converted, IDS), last_logits(tiny_model, IDS), rtol=0, atol=1e-5)


def test_naive_recipe_only_quantizes_lm_head(tiny_model) -> None:
    """Why the conversion matters: quantize_dynamic on the raw model only finds lm_head."""
    from torch.ao.quantization import quantize_dynamic

    from gpt2q_desktop.core.quiet import quiet_torch

    with quiet_torch():
        naive = quantize_dynamic(tiny_model, {nn.Linear}, dtype=torch.qint8)
    assert count_quantized(naive) == 1


@pytest.mark.parametrize("per_channel", [False, True])
def test_every_block_and_lm_head_are_quantized(tiny_model, per_channel: bool) -> None:
    q = RECIPE.quantize(tiny_model, RecipeOptions(per_channel=per_channel))
    assert count_quantized(q) == count_eligible(2) == 9
    assert _linears(q) == []
    assert not any(isinstance(m, Conv1D) for m in q.modules())
    assert count_int8_embeddings(q) == 2
    scheme = q.transformer.h[0].attn.c_attn._weight_bias()[0].qscheme()
    assert (scheme == torch.per_channel_affine) is per_channel
    assert unique_tensor_bytes(tiny_model) > 3 * sum(t.numel() * t.element_size() for t in RECIPE.flatten(q).tensors.values())
    assert all(p.requires_grad is False for p in tiny_model.parameters())
    assert isinstance(tiny_model.transformer.h[0].attn.c_attn, Conv1D), "the FP32 model must stay untouched"


def test_int8_stays_close_to_fp32(trained_checkpoint) -> None:
    from gpt2q_desktop.core.checkpoints.checkpoint import load_checkpoint

    fp32 = load_checkpoint(trained_checkpoint).model
    q = RECIPE.quantize(fp32, RecipeOptions(per_channel=True))
    p, r = last_logits(fp32, IDS), last_logits(q, IDS)
    assert kl_divergence(p, r) < 0.05
    assert int(p.argmax()) == int(r.argmax())


def test_keep_lm_head_and_fp32_embeddings(tiny_model) -> None:
    kept = RECIPE.quantize(tiny_model, RecipeOptions(keep_lm_head=True))
    assert count_quantized(kept) == 8
    assert type(kept.lm_head) is nn.Linear and kept.lm_head.weight is kept.transformer.wte.weight
    assert isinstance(kept.transformer.wpe, Int8Embedding)
    plain = RECIPE.quantize(tiny_model, RecipeOptions(quantize_embeddings=False))
    assert count_quantized(plain) == 9 and count_int8_embeddings(plain) == 0


def test_excluded_blocks_stay_fp32(tiny_model) -> None:
    q = RECIPE.quantize(tiny_model, RecipeOptions(exclude_layers=(1,)))
    assert count_quantized(q) == 5
    assert {n.split(".")[2] for n in _linears(q)} == {"1"}
    with pytest.raises(Gpt2qError, match="does not exist"):
        RECIPE.quantize(tiny_model, RecipeOptions(exclude_layers=(7,)))


def test_progress_is_reported_and_cancel_stops(tiny_model) -> None:
    seen: list[tuple[int, int]] = []
    RECIPE.quantize(tiny_model, RecipeOptions(), progress=lambda d, t, m: seen.append((d, t)))
    assert seen[0] == (0, 10) and seen[-1] == (10, 10)
    assert [d for d, _ in seen] == sorted(d for d, _ in seen)
    with pytest.raises(Cancelled):
        RECIPE.quantize(tiny_model, RecipeOptions(), cancelled=lambda: len(seen) > 12, progress=lambda *a: seen.append(a))


@pytest.mark.parametrize(
    "options",
    [RecipeOptions(), RecipeOptions(per_channel=True), RecipeOptions(keep_lm_head=True), RecipeOptions(quantize_embeddings=False),
     RecipeOptions(exclude_layers=(0,))],
)  # fmt: skip
def test_export_and_rebuild_round_trip(tiny_model, options: RecipeOptions) -> None:
    q = RECIPE.quantize(tiny_model, options)
    rebuilt = RECIPE.rebuild(tiny_model.config, RECIPE.flatten(q))
    assert count_quantized(rebuilt) == count_quantized(q)
    assert torch.equal(last_logits(rebuilt, IDS), last_logits(q, IDS))


@pytest.mark.parametrize("engine", sorted({"fbgemm", "qnnpack"} & set(torch.backends.quantized.supported_engines)))
def test_a_per_row_weight_is_packed_unscaled_and_computes_what_torchs_per_row_kernel_does(engine: str) -> None:
    import torch.ao.nn.quantized.dynamic as nnqd

    gen = torch.Generator().manual_seed(0)
    int8 = torch.randint(-127, 128, (300, 64), generator=gen, dtype=torch.int8)
    scales = torch.rand(300, generator=gen, dtype=torch.float64) / 100 + 1e-4
    bias = nn.Parameter(torch.randn(300, generator=gen))  # as a float module hands it over
    x = torch.randn(2, 3, 64, generator=gen)
    before = torch.backends.quantized.engine
    torch.backends.quantized.engine = engine
    try:
        for zeros, packed_as in [(torch.zeros(300, dtype=torch.long), torch.per_tensor_affine),
                                 (torch.ones(300, dtype=torch.long), torch.per_channel_affine)]:  # fmt: skip
            weight = torch._make_per_channel_quantized_tensor(int8, scales, zeros, 0)
            ours, torchs = RowScaledLinear(1, 1), nnqd.Linear(1, 1)
            ours.set_weight_bias(weight, bias)
            torchs.set_weight_bias(weight, bias)
            assert ours._packed_params._weight_bias()[0].qscheme() == packed_as
            (got, stored), (want, _) = ours._weight_bias(), torchs._weight_bias()  # what the cache stores
            assert torch.equal(got.int_repr(), int8) and torch.equal(got.q_per_channel_zero_points(), zeros)
            torch.testing.assert_close(got.q_per_channel_scales(), want.q_per_channel_scales(), rtol=1e-7, atol=0)
            assert torch.equal(stored, bias) and not list(ours.parameters())  # torch's holds none either
            with torch.inference_mode():
                torch.testing.assert_close(ours(x), torchs(x), rtol=1e-5, atol=1e-6)
    finally:
        torch.backends.quantized.engine = before


def test_tied_int8_matrix_is_stored_once(tiny_model) -> None:
    flattened = RECIPE.flatten(RECIPE.quantize(tiny_model, RecipeOptions()))
    assert flattened.layout["lm_head_shares_wte"] is True
    assert not any(k.startswith("lm_head.") for k in flattened.tensors)
    assert flattened.tensors["transformer.wte.weight_int8"].dtype == torch.int8


@pytest.mark.skipif(
    not {"fbgemm", "qnnpack"} <= set(torch.backends.quantized.supported_engines), reason="an x86 build of torch"
)
def test_the_kernels_are_fbgemm_by_default_and_unknown_ones_are_refused(tiny_model) -> None:
    before = torch.backends.quantized.engine
    try:
        torch.backends.quantized.engine = "qnnpack"
        RECIPE.quantize(tiny_model, RecipeOptions())
        assert torch.backends.quantized.engine == "fbgemm"
        with pytest.raises(Gpt2qError, match="not available"):
            DynamicInt8Recipe("tpu").quantize(tiny_model, RecipeOptions())
    finally:
        torch.backends.quantized.engine = before
