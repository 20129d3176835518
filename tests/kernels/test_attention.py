"""The attention kernels and the backbone's mask sharing give the same numbers as the plain
computation: values and every gradient, including the bias's."""

from __future__ import annotations

import pytest
import torch
import torch.nn.functional as F

from pebench import encodings
from pebench.backbone import Transformer
from pebench.encodings.base import ModelDims
from pebench.kernels.naive import naive_attention
from pebench.kernels.sdpa import attention


def _reference(q, k, v, mask):
    return naive_attention(q, k, v, mask)


@pytest.mark.parametrize("mask_shape", [(1, 4, 9, 9), (3, 4, 9, 9), (3, 1, 9, 9), (1, 1, 9, 9)])
@pytest.mark.parametrize("rows_per_block", [1, 2, None])  # None: the whole batch in one block
def test_learned_bias_gradient_matches_explicit_softmax(
    mask_shape: tuple[int, ...], rows_per_block: int | None, monkeypatch
) -> None:
    from pebench.kernels import cpu_blocks as kernels

    if rows_per_block is not None:
        monkeypatch.setattr(kernels, "BLOCK_ELEMENTS", rows_per_block * 4 * 9 * 9)
    torch.manual_seed(0)
    qkv = torch.randn(3, 9, 3, 4, 8).permute(2, 0, 3, 1, 4)  # strided like the model's q, k, v
    causal = torch.full((9, 9), float("-inf")).triu(1)
    bias = torch.randn(mask_shape)
    grads = []
    for fn in (attention, None):
        q, k, v = (t.clone().requires_grad_() for t in qkv)
        b = bias.clone().requires_grad_()
        out = fn(q, k, v, b + causal, False) if fn else _reference(q, k, v, b + causal)
        (out * torch.linspace(-1, 1, 8)).pow(2).sum().backward()
        grads.append([out, q.grad, k.grad, v.grad, b.grad])
    for ours, ref in zip(*grads, strict=True):
        assert ours.shape == ref.shape
        assert torch.allclose(ours, ref, atol=1e-5)


@pytest.mark.parametrize("shared_index", [True, False], ids=["shared", "per-row"])
@pytest.mark.parametrize("padded", [False, True])
@pytest.mark.parametrize("rows_per_block", [1, 2, None])  # None: the whole batch in one block
def test_bucket_bias_kernel_matches_explicit_softmax(
    shared_index: bool, padded: bool, rows_per_block: int | None, monkeypatch
) -> None:
    """The blocked CPU kernel of Shaw and Transformer-XL, and the query-blocked path GPUs take
    for long sequences: values and gradients (q, k, v and the bucket scores) equal autograd
    through the gathered bias and an explicit softmax."""
    from pebench.encodings.relative import gather_offsets
    from pebench.kernels import cpu_blocks as kernels
    from pebench.kernels.cpu_blocks import BucketBiasedAttention
    from pebench.kernels.sdpa import blocked_bucket_attention, bucket_biased_attention

    if rows_per_block is not None:
        monkeypatch.setattr(kernels, "BLOCK_ELEMENTS", rows_per_block * 4 * 9 * 9)
    torch.manual_seed(0)
    qkv = torch.randn(3, 9, 3, 4, 8).permute(2, 0, 3, 1, 4)
    buckets = torch.randn(3, 4, 9, 5)
    index = torch.randint(0, 5, (1 if shared_index else 3, 9, 9))
    mask = torch.full((9, 9), float("-inf")).triu(1).expand(3, 1, 9, 9).clone()
    if padded:
        mask[2, :, :, 6:] = float("-inf")
        mask[2, :, 6:, 0] = 0.0  # padded queries still see one key
    grads = []
    for kernel in ("cpu", "blocked", None):
        q, k, v = (t.clone().requires_grad_() for t in qkv)
        b = buckets.clone().requires_grad_()
        if kernel == "cpu":
            out = bucket_biased_attention(q, k, v, b, lambda s, e: index[..., s:e, :], mask)
            assert type(out.grad_fn).__name__ == BucketBiasedAttention.__name__ + "Backward"
        elif kernel == "blocked":  # GPUs' long-sequence path: 4 queries a block, checkpointed
            rows = lambda s, e: index[..., s:e, :]  # noqa: E731
            out = blocked_bucket_attention(q, k, v, b, rows, mask, chunk=4)
        else:
            out = _reference(q, k, v, mask + gather_offsets(b, index))
        (out * torch.linspace(-1, 1, 8)).pow(2).sum().backward()
        grads.append([out, q.grad, k.grad, v.grad, b.grad])
    for blocked, cpu, ref in zip(*grads, strict=True):
        assert torch.allclose(cpu, ref, atol=1e-5)
        assert torch.allclose(blocked, ref, atol=1e-5)


def test_attention_without_gradient_is_sdpa() -> None:
    q, k, v = torch.randn(3, 2, 4, 5, 8).unbind(0)
    mask = torch.randn(1, 4, 5, 5)
    expected = F.scaled_dot_product_attention(q, k, v, attn_mask=mask)
    assert torch.allclose(attention(q, k, v, mask, False), expected, atol=1e-6)


@pytest.mark.parametrize("name", sorted(encodings.available()))
def test_shared_positions_match_per_row_positions(name: str) -> None:
    """The default (1, n) positions give the same outputs and gradients as n explicit rows."""
    cls = encodings.get(name)
    dims = ModelDims(d_model=16, num_heads=2, num_layers=2, causal=True)
    torch.manual_seed(0)
    model = Transformer(11, dims, cls(dims))
    tokens = torch.randint(11, (3, 7))
    shared = model(tokens)
    shared.square().sum().backward()
    shared_grads = [p.grad.clone() for p in model.parameters()]
    model.zero_grad()
    rows = model(tokens, positions=torch.arange(7).expand(3, 7))
    rows.square().sum().backward()
    assert torch.allclose(shared, rows, atol=1e-5)
    for a, p in zip(shared_grads, model.parameters(), strict=True):
        assert torch.allclose(a, p.grad, atol=1e-4)


def test_static_bias_mask_is_cached_per_length() -> None:
    dims = ModelDims(d_model=16, num_heads=2, num_layers=1, causal=True)
    model = Transformer(11, dims, encodings.get("alibi")(dims))
    positions = torch.arange(6).unsqueeze(0)
    first = model.attention_mask(positions, None, torch.float32)
    assert model.attention_mask(positions, None, torch.float32) is first
    assert model.attention_mask(torch.arange(5).unsqueeze(0), None, torch.float32) is not first
    uncached = model.attention_mask(positions.expand(2, 6), None, torch.float32)  # per-row
    assert torch.equal(first.additive.expand_as(uncached.additive), uncached.additive)
    learned = Transformer(11, dims, encodings.get("t5")(dims))  # parameters: never cached
    assert learned.attention_mask(positions, None, torch.float32) is not learned.attention_mask(
        positions, None, torch.float32
    )


@pytest.mark.parametrize("name,options", [
    ("fire", {"init_L": 4.0}),  # past L from the fifth query: the bias depends on the query
    ("alibi", {}),
    ("t5", {}),
    ("kerple_log", {}),
])  # fmt: skip
@pytest.mark.parametrize("causal", [True, False], ids=["causal", "bidirectional"])
@pytest.mark.parametrize("padded", [False, True], ids=["dense", "padded"])
def test_masks_built_by_blocks_of_queries_equal_the_whole_mask(
    name: str, options: dict, causal: bool, padded: bool, monkeypatch
) -> None:
    """GPUs' path for dense biases past DENSE_BIAS_LIMIT (forced here on CPU, 4 queries a
    block): the same outputs and gradients, the encoding's parameters included."""
    from pebench.kernels import chunked, dispatch

    F32 = torch.float32  # noqa: N806
    dims = ModelDims(d_model=16, num_heads=2, num_layers=2, causal=causal)
    tokens = torch.randint(11, (3, 13), generator=torch.Generator().manual_seed(0))
    padding = torch.zeros(3, 13, dtype=torch.bool)
    padding[1, 9:] = True
    results = []
    for by_rows in (False, True):
        monkeypatch.setattr(dispatch, "bias_by_rows", lambda device, n, _b=by_rows: _b)
        monkeypatch.setattr(chunked, "CHUNK_ELEMENTS", 3 * 2 * 13 * 4)
        torch.manual_seed(0)
        model = Transformer(11, dims, encodings.get(name)(dims, **options))
        for param in model.encoding.parameters():
            param.data.add_(0.1 * torch.randn_like(param))
        mask = model.attention_mask(torch.arange(13)[None], padding if padded else None, F32)
        assert (mask.rows is not None) == by_rows
        out = model(tokens, padding_mask=padding if padded else None)
        real = ~padding if padded else torch.ones_like(padding)
        out[real].square().sum().backward()
        results.append([out[real].detach()] + [p.grad for p in model.parameters()])
    for blocked, whole in zip(results[1], results[0], strict=True):
        torch.testing.assert_close(blocked, whole)
