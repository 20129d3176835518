"""CoPE attention (Golovneva et al. 2024): the eager reference and the CPU block kernel.

:func:`cope_probabilities` is the reference, run on GPUs and in other dtypes one block of
queries at a time (:mod:`pebench.kernels.chunked`; CoPE has no published fused kernel). On
CPU in float32, :func:`blocked_attention` (no gradients) and :class:`CoPEAttention`
(training) compute it one block of (batch, head) rows at a time, never holding a dozen
(n, n) intermediates per layer. :func:`cope_attention` chooses between them.
"""

from __future__ import annotations

import math

import torch
from torch import Tensor

from pebench.kernels import dispatch
from pebench.kernels.chunked import by_query_chunks, mask_rows
from pebench.kernels.cpu_blocks import blocks


def cope_attention(
    q: Tensor, k: Tensor, v: Tensor, table: Tensor, mask: Tensor, causal: bool
) -> Tensor:
    """softmax(q·kᵀ/√d + q·e(p) + mask)·v for (batch, heads, n, d) tensors, positions
    ``table`` (d, npos) and an additive ``mask``: the CPU block kernel on CPU in float32
    (its autograd function when a gradient is needed), elsewhere the reference one block of
    queries at a time (:mod:`pebench.kernels.chunked`: exact, as positions are counted
    along each query's own row)."""
    if dispatch.own_path("cope", q.device, causal, q.dtype) == "chunked":
        return chunked_attention(q, k, v, table, mask, causal)
    if torch.is_grad_enabled() and any(x.requires_grad for x in (q, k, v, table)):
        return CoPEAttention.apply(q, k, v, table, mask.detach(), causal)
    return blocked_attention(q, k, v, table, mask, causal)


def chunked_attention(
    q: Tensor, k: Tensor, v: Tensor, table: Tensor, mask: Tensor, causal: bool,
    chunk: int | None = None,
) -> Tensor:  # fmt: skip
    """CoPE attention of (batch, heads, n, d) tensors, ``chunk`` queries at a time (by default
    :func:`pebench.kernels.chunked.query_chunk`'s size), checkpointed with gradients."""
    return by_query_chunks(
        lambda start, stop: cope_probabilities(
            q[..., start:stop, :], k, table, mask_rows(mask, start, stop), causal, start
        )[-1] @ v,
        q, k.shape[-2], chunk,
    )  # fmt: skip


def cope_probabilities(
    q: Tensor, k: Tensor, table: Tensor, mask: Tensor, causal: bool, start: int | None = None
) -> tuple[Tensor, ...]:
    """Attention weights of CoPE for (..., n, d) queries and keys, and the intermediates the
    backward pass needs: (logits, gates, unclamped positions, ⌊p⌋, ⌈p⌉, frac, q·e, e[⌊p⌋],
    e[⌈p⌉], weights). ``mask`` is additive (−inf where attention is forbidden); in a causal
    model it hides every j > i, so only the j ≤ i count is computed. With ``start``, the
    queries are rows ``start``… of the sequence (a block of them) and ``mask`` their rows."""
    npos, t, n = table.shape[-1], q.shape[-2], k.shape[-2]
    scale = 1 / math.sqrt(q.shape[-1])
    if q.dim() == 3:  # one kernel block: scale and mask fused into the product
        logits = torch.baddbmm(mask.expand(q.shape[0], t, n), q, k.transpose(-1, -2), alpha=scale)
    else:
        logits = torch.matmul(q, k.transpose(-1, -2)).mul_(scale).add_(mask)
    gates = torch.sigmoid(logits)  # 0 where masked
    prefix = gates.cumsum(-1)  # S_ij = Σ_{k ≤ j} g_ik
    # the query's own key: the diagonal, shifted by ``start`` for a block of queries
    diag = prefix.diagonal(start or 0, dim1=-2, dim2=-1).unsqueeze(-1)  # S_ii
    own_gate = gates.diagonal(start or 0, dim1=-2, dim2=-1).unsqueeze(-1)  # g_ii
    pos = (gates - prefix).add_(diag)  # j ≤ i: S_ii − S_ij + g_ij = Σ_{k=j..i} g_ik
    if not causal:  # j > i: S_ij − S_ii + g_ii = Σ_{k=i..j} g_ik
        after = (prefix - diag).add_(own_gate)
        upper = torch.ones(t, n, dtype=torch.bool, device=q.device).triu(1 + (start or 0))
        pos = torch.where(upper, after, pos)
    clamped = pos.clamp(0, npos - 1)
    low_index, high_index = clamped.floor(), clamped.ceil().long()
    frac = clamped - low_index
    low_index = low_index.long()
    per_position = torch.matmul(q, table)  # q·e[m] for every integer m: (..., n, npos)
    low = per_position.gather(-1, low_index)
    high = per_position.gather(-1, high_index)
    scores = (high - low).mul_(frac).add_(low).add_(logits)
    weights = scores.softmax(-1)
    return logits, gates, pos, low_index, high_index, frac, per_position, low, high, weights


def blocked_attention(
    q: Tensor, k: Tensor, v: Tensor, table: Tensor, mask: Tensor, causal: bool
) -> Tensor:
    """CoPE attention of (batch, heads, n, d) tensors computed block by block (see
    :func:`_blocks`), without gradients."""
    qf, kf, vf = _rows(q), _rows(k), _rows(v)
    out = torch.empty(*qf.shape[:-1], v.shape[-1], dtype=q.dtype, device=q.device)
    for rows in _blocks(q):
        mask_rows = _block_mask(mask, rows, q.shape[1])
        weights = cope_probabilities(qf[rows], kf[rows], table, mask_rows, causal)[-1]
        torch.bmm(weights, vf[rows], out=out[rows])
    return out.view(*q.shape[:-1], v.shape[-1])


class CoPEAttention(torch.autograd.Function):
    """CoPE attention with a hand-written backward that recomputes the (n, n) intermediates
    one block (see :func:`_blocks`) at a time and saves only q, k, v and the output.

    With z = e(p) and ℓ = q·kᵀ/√d + z, a = softmax(ℓ), o = a·v:
    dℓ = a ⊙ (dO·vᵀ − rowsum(dO ⊙ o)); de[⌊p⌋] += dℓ·(1 − frac), de[⌈p⌉] += dℓ·frac;
    dp = dℓ·(e[⌈p⌉] − e[⌊p⌋]) where p is unclamped; since p_ij sums g_ik for k from j to i,
    dg_ik = Σ_{j ≤ k} dp_ij for k ≤ i (and Σ_{j ≥ k} dp_ij for k ≥ i after the query in an
    encoder); d(logits) = dℓ + dg ⊙ g(1 − g).
    """

    @staticmethod
    def forward(ctx, q: Tensor, k: Tensor, v: Tensor, table: Tensor, mask: Tensor, causal: bool):  # type: ignore[override]
        out = blocked_attention(q, k, v, table, mask, causal)
        ctx.causal = causal
        ctx.save_for_backward(q, k, v, table, mask, out)
        return out

    @staticmethod
    def backward(ctx, grad: Tensor):  # type: ignore[override]
        q4, k4, v4, table, mask, out = ctx.saved_tensors
        causal, npos, heads = ctx.causal, table.shape[-1], q4.shape[1]
        scale = 1 / math.sqrt(q4.shape[-1])
        q, k, v, grad = _rows(q4), _rows(k4), _rows(v4), _rows(grad)
        dq, dk, dv = torch.empty_like(q), torch.empty_like(k), torch.empty_like(v)
        dtable = torch.zeros_like(table)
        delta = (grad * _rows(out)).sum(-1, keepdim=True)
        for b in _blocks(q4):
            (_, gates, pos, low_index, high_index, frac, per_position, low, high, weights) = (
                cope_probabilities(q[b], k[b], table, _block_mask(mask, b, heads), causal)
            )
            torch.bmm(weights.transpose(-1, -2), grad[b], out=dv[b])
            dscores = torch.bmm(grad[b], v[b].transpose(-1, -2)).sub_(delta[b]).mul_(weights)
            dper_position = torch.zeros_like(per_position)
            to_high = dscores * frac
            dper_position.scatter_add_(-1, high_index, to_high)
            dper_position.scatter_add_(-1, low_index, torch.sub(dscores, to_high, out=to_high))
            dpos = high.sub_(low).mul_(dscores)
            if pos.amax() > npos - 1:  # clamped positions pass no gradient (p ≥ 0 always)
                dpos.mul_(pos <= npos - 1)
            if causal:  # gates after the query are 0, so g(1 − g) masks the k > i terms below
                dgates = dpos.cumsum(-1)
            else:
                t = q.shape[-2]
                lower = torch.ones(t, t, dtype=torch.bool, device=q.device).tril()
                before = dpos.masked_fill(~lower, 0).cumsum(-1).masked_fill_(~lower, 0)
                after = dpos.masked_fill(lower, 0).flip(-1).cumsum(-1).flip(-1)
                dgates = before.add_(after.masked_fill_(lower.tril(-1), 0))
            dlogits = torch.ops.aten.sigmoid_backward(dgates, gates).add_(dscores)
            torch.bmm(dlogits, k[b], out=dq[b]).mul_(scale)
            dq[b] += torch.matmul(dper_position, table.transpose(-1, -2))
            torch.bmm(dlogits.transpose(-1, -2), q[b], out=dk[b]).mul_(scale)
            dtable += torch.einsum("htd,htp->dp", q[b], dper_position)
        shaped = (dq.view_as(q4), dk.view_as(k4), dv.view_as(v4))
        return *shaped, dtable, None, None


def _rows(x: Tensor) -> Tensor:
    """A (batch, heads, n, d) tensor as (batch·heads, n, d) rows."""
    return x.reshape(-1, *x.shape[-2:])


def _blocks(q: Tensor) -> list[slice]:
    """Blocks of the (batch·heads) rows of a (batch, heads, n, d) tensor, one (n, n) block
    per row (:func:`pebench.kernels.cpu_blocks.blocks`: one row per block at n = 512,
    where 1-head blocks measured 0.27 s per layer forward + backward against 0.44 s for 8)."""
    return blocks(q.shape[0] * q.shape[1], q.shape[-2] ** 2)


def _block_mask(mask: Tensor, rows: slice, heads: int) -> Tensor:
    """The part of an additive mask (shared along batch or heads, or not) for a block of
    (batch·heads) rows: (n, n) when shared by all, else (rows, n, n)."""
    if mask.dim() < 4:
        return mask
    if mask.shape[0] == 1 and mask.shape[1] == 1:
        return mask[0, 0]
    index = torch.arange(rows.start, rows.stop, device=mask.device)
    batch = index // heads if mask.shape[0] > 1 else 0
    head = index % heads if mask.shape[1] > 1 else 0
    return mask[batch, head]
