"""Scaled dot-product attention through PyTorch's SDPA (flash, memory-efficient or math
kernel, chosen by PyTorch), with the fused CPU kernels of :mod:`pebench.kernels.cpu_blocks`
where a bias needs a gradient on CPU."""

from __future__ import annotations

import math
from collections.abc import Callable

import torch
import torch.nn.functional as F
from torch import Tensor

from pebench.kernels import dispatch
from pebench.kernels.bias import gather_offsets
from pebench.kernels.chunked import by_query_chunks, mask_rows
from pebench.kernels.cpu_blocks import BiasedAttention, BucketBiasedAttention


def _cpu_bias_grad(q: Tensor, bias: Tensor) -> bool:
    """Whether a float32 CPU bias needs a gradient (the case SDPA runs unfused)."""
    return (
        bias.requires_grad
        and torch.is_grad_enabled()
        and q.device.type == "cpu"
        and q.dtype == bias.dtype == torch.float32
    )


def attention(q: Tensor, k: Tensor, v: Tensor, mask: Tensor | None, is_causal: bool) -> Tensor:
    """Scaled dot-product attention of (batch, heads, length, head_dim) tensors; ``mask`` is
    additive, broadcastable to (batch, heads, q_len, k_len)."""
    if mask is not None and _cpu_bias_grad(q, mask):
        return BiasedAttention.apply(q, k, v, mask)
    return F.scaled_dot_product_attention(q, k, v, attn_mask=mask, is_causal=is_causal)


def bucket_biased_attention(
    q: Tensor, k: Tensor, v: Tensor, buckets: Tensor, index: Callable[[int, int], Tensor],
    mask: Tensor,
) -> Tensor:  # fmt: skip
    """softmax(q·kᵀ/√d + buckets[b, h, i, index[b, i, j]] + mask)·v for (batch, heads, n, d)
    tensors, per-query bucket scores ``buckets`` (batch, heads, n, buckets), the buckets of
    queries ``start:stop`` against every key from ``index(start, stop)`` ((batch or 1, rows,
    n)) and a static additive ``mask``. Training on CPU runs :class:`BucketBiasedAttention`;
    elsewhere the bias is gathered whole, or where :func:`pebench.kernels.dispatch.bias_by_rows`
    says (long sequences on GPUs) one checkpointed block of queries at a time."""
    n = q.shape[-2]
    if _cpu_bias_grad(q, buckets):
        return BucketBiasedAttention.apply(
            q, k, v, buckets, index(0, n), mask.detach().to(q.dtype)
        )
    if not dispatch.bias_by_rows(q.device, q.shape[0] * q.shape[1] * n * k.shape[-2]):
        return attention(q, k, v, mask + gather_offsets(buckets, index(0, n)), False)
    return blocked_bucket_attention(q, k, v, buckets, index, mask)


def blocked_bucket_attention(
    q: Tensor, k: Tensor, v: Tensor, buckets: Tensor, index: Callable[[int, int], Tensor],
    mask: Tensor, chunk: int | None = None,
) -> Tensor:  # fmt: skip
    """:func:`bucket_biased_attention` with the bias gathered for ``chunk`` queries at a time
    (:func:`attention_by_rows`)."""

    def rows(start: int, stop: int) -> Tensor:
        bias = gather_offsets(buckets[..., start:stop, :], index(start, stop))
        return mask_rows(mask, start, stop) + bias

    return attention_by_rows(q, k, v, rows, chunk)


def gated_causal_attention(
    q: Tensor,
    k: Tensor,
    v: Tensor,
    mask: Tensor | None,
    is_causal: bool,
    total: Tensor,
    align: int | None = None,
) -> Tensor:
    """softmax(q·kᵀ/√d + c_i − c_j + mask)·v for (batch, heads, n, d) tensors and cumulative
    log forget gates ``total`` (batch, heads, n) (FoX's causal bias). c_i − c_j is bilinear:
    q̃_i = [q_i, √d·c_i, √d], k̃_j = [k_j, 1, −c_j] give q̃·k̃/√d = q·k/√d + c_i − c_j, so the
    fused SDPA kernel computes forward and backward without a (batch, heads, n, n) bias.
    The d + 2 dimensions are zero-padded to a multiple of ``align`` (8 on CUDA, whose flash
    kernel takes only such head sizes; none elsewhere)."""
    d = q.shape[-1]
    if align is None:
        align = 8 if q.is_cuda else 1
    pad = (-(d + 2)) % align
    root = math.sqrt(d)
    total = total.to(q.dtype).unsqueeze(-1)
    ones = torch.ones_like(total)
    q_ext = F.pad(torch.cat((q, total * root, ones * root), dim=-1), (0, pad))
    k_ext = F.pad(torch.cat((k, ones, -total), dim=-1), (0, pad))
    out = F.scaled_dot_product_attention(
        q_ext, k_ext, F.pad(v, (0, 2 + pad)), mask, is_causal=is_causal, scale=1 / root
    )
    return out[..., :d]


def attention_by_rows(
    q: Tensor, k: Tensor, v: Tensor, rows: Callable[[int, int], Tensor], chunk: int | None = None
) -> Tensor:
    """Attention whose additive mask is built per block of queries, ``rows(start, stop)``
    (broadcastable to (batch, heads, stop − start, n)): exact, as softmax rows are independent,
    and checkpointed with gradients, so no (batch, heads, n, n) mask or bias ever exists."""
    return by_query_chunks(
        lambda start, stop: attention(q[..., start:stop, :], k, v, rows(start, stop), False),
        q, k.shape[-2], chunk,
    )  # fmt: skip
