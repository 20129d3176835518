"""Fused CPU attention kernels for score biases that need a gradient.

On CPU, :func:`torch.nn.functional.scaled_dot_product_attention` with a mask that requires
a gradient falls back to the unfused "math" kernel, which keeps the (batch, heads, q_len,
k_len) probabilities of every layer for backward. :class:`BiasedAttention` instead runs the
fused CPU flash kernel forward and backward for q, k, v and recomputes the bias gradient a
block of batch rows at a time, saving only the output and the log-sum-exp, as flash attention
does; :class:`BucketBiasedAttention` does the same for per-query bucket scores (Shaw et al.,
Transformer-XL) without materializing their (batch, heads, n, n) bias. Both are pinned to
the eager reference (:mod:`pebench.kernels.naive`) by the tests.
"""

from __future__ import annotations

import torch
from torch import Tensor

#: lowest exponent still on the vectorized fast path of exp in float32
EXP_FLOOR = -87.0

#: elements of the score intermediates one block of a CPU kernel may hold: a block takes
#: as many rows (batch rows, or (batch row, head) pairs) as fit, at least one, so long
#: sequences stay in cache row by row (one (n, n) block is 1 MB at n = 512) and short ones
#: are not run row by row (at n = 42, 64 rows of 4 heads would be 64 rounds of tiny kernels)
BLOCK_ELEMENTS = 512 * 512


def blocks(rows: int, row_elements: int) -> list[slice]:
    """Consecutive slices of ``rows`` rows, each holding at most ``BLOCK_ELEMENTS`` elements
    (``row_elements`` per row), at least one row each."""
    per_block = max(1, BLOCK_ELEMENTS // max(1, row_elements))
    return [slice(start, min(start + per_block, rows)) for start in range(0, rows, per_block)]

_flash = torch.ops.aten._scaled_dot_product_flash_attention_for_cpu
_flash_backward = torch.ops.aten._scaled_dot_product_flash_attention_for_cpu_backward


class BiasedAttention(torch.autograd.Function):
    """softmax(q·kᵀ/√d + mask)·v with ∂/∂mask = P ⊙ (dP − rowsum(dO ⊙ O)), summed over the
    dimensions the mask was broadcast along (Dao et al. 2022, flash attention backward)."""

    @staticmethod
    def forward(ctx, q: Tensor, k: Tensor, v: Tensor, mask: Tensor) -> Tensor:  # type: ignore[override]
        mask = mask.detach()
        out, lse = _flash(q, k, v, 0.0, False, attn_mask=mask)
        ctx.save_for_backward(q, k, v, mask, out, lse)
        return out

    @staticmethod
    def backward(ctx, grad: Tensor) -> tuple[Tensor, Tensor, Tensor, Tensor | None]:  # type: ignore[override]
        q, k, v, mask, out, lse = ctx.saved_tensors
        grad = grad.contiguous()
        dq, dk, dv = _flash_backward(grad, q, k, v, out, lse, 0.0, False, attn_mask=mask)
        dmask = None
        if ctx.needs_input_grad[3]:
            dmask = _mask_gradient(q, k, v, mask, out, lse, grad)
        return dq, dk, dv, dmask


def _mask_gradient(
    q: Tensor, k: Tensor, v: Tensor, mask: Tensor, out: Tensor, lse: Tensor, grad: Tensor
) -> Tensor:
    """dS = P ⊙ (dO·vᵀ − rowsum(dO ⊙ O)), a block of batch rows at a time (see
    :func:`blocks`), reduced to mask's shape."""
    batch, heads, n = q.shape[:3]
    scale = q.shape[-1] ** -0.5
    delta = (grad * out).sum(-1, keepdim=True)
    full = mask.expand(batch, heads, -1, -1)
    dmask = torch.zeros(mask.shape[0], heads, *mask.shape[2:], dtype=q.dtype, device=q.device)
    for rows in blocks(batch, heads * n * k.shape[-2]):
        p = torch.matmul(q[rows], k[rows].transpose(-1, -2)).mul_(scale).add_(full[rows])
        # exp of inputs below −87 (masked −inf included) takes a scalar slow path, ~7× slower;
        # clamping there moves those probabilities from 0 to e^−87 < 2e−38.
        p = p.sub_(lse[rows].unsqueeze(-1)).clamp_(min=EXP_FLOOR).exp_()
        ds = p.mul_(torch.matmul(grad[rows], v[rows].transpose(-1, -2)).sub_(delta[rows]))
        if mask.shape[0] > 1:
            dmask[rows] += ds
        else:
            dmask[0] += ds.sum(0)
    return dmask.sum(1, keepdim=True) if mask.shape[1] == 1 else dmask


class BucketBiasedAttention(torch.autograd.Function):
    """softmax(q·kᵀ/√d + B[b, h, i, index[i, j]] + mask)·v for per-query bucket scores B
    (Shaw et al.'s clipped distances, Transformer-XL's distances), a block of batch rows at a
    time (see :func:`blocks`): the (rows, heads, n, n) bias is gathered per block in forward
    and again in backward, and its gradient dS = P ⊙ (dO·vᵀ − rowsum(dO ⊙ O)) is summed
    straight into the buckets, so no (batch, heads, n, n) tensor outlives a block (Dao et
    al. 2022 for the backward)."""

    @staticmethod
    def forward(  # type: ignore[override]
        ctx, q: Tensor, k: Tensor, v: Tensor, buckets: Tensor, index: Tensor, mask: Tensor
    ) -> Tensor:
        out = torch.empty_like(q)
        lse = q.new_empty(q.shape[:-1])
        for rows in blocks(q.shape[0], q.shape[1] * q.shape[2] ** 2):
            bias = _rows_bias(buckets, index, mask, rows)
            out[rows], lse[rows] = _flash(q[rows], k[rows], v[rows], 0.0, False, attn_mask=bias)
        ctx.save_for_backward(q, k, v, buckets, index, mask, out, lse)
        return out

    @staticmethod
    def backward(ctx, grad: Tensor):  # type: ignore[override]
        q, k, v, buckets, index, mask, out, lse = ctx.saved_tensors
        grad = grad.contiguous()
        scale = q.shape[-1] ** -0.5
        dq, dk, dv = torch.empty_like(q), torch.empty_like(k), torch.empty_like(v)
        dbuckets = torch.zeros_like(buckets)
        delta = (grad * out).sum(-1, keepdim=True)
        for rows in blocks(q.shape[0], q.shape[1] * q.shape[2] ** 2):
            bias = _rows_bias(buckets, index, mask, rows)
            dq[rows], dk[rows], dv[rows] = _flash_backward(
                grad[rows], q[rows], k[rows], v[rows], out[rows], lse[rows], 0.0, False,
                attn_mask=bias,
            )  # fmt: skip
            p = torch.matmul(q[rows], k[rows].transpose(-1, -2)).mul_(scale).add_(bias)
            p = p.sub_(lse[rows].unsqueeze(-1)).clamp_(min=EXP_FLOOR).exp_()
            ds = p.mul_(torch.matmul(grad[rows], v[rows].transpose(-1, -2)).sub_(delta[rows]))
            dbuckets[rows].scatter_add_(-1, _rows_index(index, rows, q.shape[1]), ds)
        return dq, dk, dv, dbuckets, None, None


def _rows_index(index: Tensor, rows: slice, heads: int) -> Tensor:
    """The (rows, heads, n, n) bucket index of a block of batch rows (index may be shared by
    the batch)."""
    part = index[rows] if index.shape[0] > 1 else index
    return part.unsqueeze(1).expand(rows.stop - rows.start, heads, -1, -1)


def _rows_bias(buckets: Tensor, index: Tensor, mask: Tensor, rows: slice) -> Tensor:
    """Additive mask plus gathered bucket scores for a block of batch rows:
    (rows, heads, n, n)."""
    bias = buckets[rows].gather(-1, _rows_index(index, rows, buckets.shape[1]))
    if mask.dim() == 4 and mask.shape[0] > 1:
        mask = mask[rows]
    return bias.add_(mask)
