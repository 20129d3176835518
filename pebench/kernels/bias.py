"""Compact forms of a score bias, so a kernel can apply it without a (batch, heads, q, k)
tensor: a per-head table over query−key offsets, and per-query bucket scores."""

from __future__ import annotations

import math
from dataclasses import dataclass

import torch
import torch.nn.functional as F
from torch import Tensor

from pebench.kernels import ranges


@dataclass(frozen=True)
class OffsetTable:
    """A score bias that depends on the offset only: bias[b, h, i, j] = values[h, d − low]
    with d = q_positions[b, i] − k_positions[b, j].

    ``values`` (heads, n_offsets) covers every offset in ``low .. low + n_offsets − 1``; it
    is computed once per forward pass (with autograd), H·(2T−1) entries instead of H·T².
    """

    values: Tensor
    low: int

    def dense(self, q_positions: Tensor, k_positions: Tensor) -> Tensor:
        """The bias as one (batch, heads, q_len, k_len) tensor (the SDPA path)."""
        index = q_positions.unsqueeze(-1) - k_positions.unsqueeze(-2) - self.low
        # an embedding lookup: its CPU backward sums into the table faster than indexing's
        return F.embedding(index, self.values.t()).permute(0, 3, 1, 2)


@dataclass(frozen=True)
class BucketBias:
    """A score bias made of per-query scores over buckets of the offset (Shaw et al.'s clipped
    distances, Transformer-XL's distances): bias[b, h, i, j] = scores[b, h, i, bucket(d)]
    with d = positions[b, i] − positions[b, j] and bucket(d) = ``buckets[d − low]``.

    ``scores`` (batch or 1, heads, n, n_buckets) is what the encoding computes (q·a_r once per
    bucket r, with autograd); ``buckets`` (n_offsets,) maps every offset that occurs to its
    bucket. A kernel gathers the score per pair, so no (batch, heads, n, n) tensor is kept.
    """

    scores: Tensor
    buckets: Tensor
    low: int

    def index(self, positions: Tensor, start: int = 0, stop: int | None = None) -> Tensor:
        """The bucket of every (query, key) pair, (batch or 1, n, n) (the SDPA path), or of
        queries ``start:stop`` only, (batch or 1, stop − start, n)."""
        queries = positions[..., start:stop]
        return self.buckets[queries.unsqueeze(-1) - positions.unsqueeze(-2) - self.low]


def gather_offsets(per_offset: Tensor, index: Tensor) -> Tensor:
    """Pick per-offset scores for every (query, key) pair.

    ``per_offset`` (batch, heads, q_len, n_offsets) holds a score for each query and each
    offset bucket; ``index`` (batch, q_len, k_len) holds the bucket of each pair. Returns
    (batch, heads, q_len, k_len). This is how Shaw et al. and Transformer-XL avoid building
    a (q_len × k_len × head_dim) tensor of relative embeddings. On GPUs its backward sums
    by runs (:func:`bucket_sums`) rather than with gather's scatter_add.
    """
    if per_offset.is_cuda and per_offset.requires_grad and torch.is_grad_enabled():
        return BucketGather.apply(per_offset, index)
    return _gather(per_offset, index)


def _gather(per_offset: Tensor, index: Tensor) -> Tensor:
    b, h, q_len, _ = per_offset.shape
    index = index.unsqueeze(1).expand(b if index.shape[0] == 1 else index.shape[0], h, q_len, -1)
    return per_offset.expand(index.shape[0], -1, -1, -1).gather(-1, index)


def monotone(index: Tensor) -> int:
    """1 when every row of ``index`` never decreases along its last dimension, −1 when it
    never increases, 0 otherwise."""
    if index.shape[-1] < 2:
        return 1
    steps = index.diff(dim=-1)
    if bool((steps >= 0).all()):
        return 1
    return -1 if bool((steps <= 0).all()) else 0


def bucket_sums(values: Tensor, index: Tensor, n_buckets: int, runs: bool | None = None) -> Tensor:
    """Σ_j values[b, h, i, j] over the pairs j of bucket r = index[b, i, j], for every bucket:
    (batch, heads, q_len, n_buckets) from (batch, heads, q_len, k_len) values and an
    ``index`` (batch or 1, q_len, k_len).

    Where each row of ``index`` is monotone (the default positions, for Shaw's clipped and
    Transformer-XL's distances), every bucket is one run of keys, summed as the difference of
    two prefix sums (in float32 at least). Otherwise, or on CPU unless ``runs`` says so,
    scatter_add. On GPUs its atomic adds collide when many pairs share a bucket (Shaw's two
    clipped edges hold most pairs of a long row): the suspected cause of Shaw's 43× NoPE's
    step on an H200, not yet confirmed there.
    """
    direction = monotone(index) if (values.is_cuda if runs is None else runs) else 0
    if direction == 0:
        out = values.new_zeros(*values.shape[:-1], n_buckets)
        return out.scatter_add_(-1, index.unsqueeze(1).expand_as(values), values)
    ordered = (index if direction > 0 else -index).contiguous()  # ascending along keys
    targets = torch.arange(n_buckets, device=index.device) * direction
    targets = targets.expand(*index.shape[:-1], n_buckets).contiguous()
    start = torch.searchsorted(ordered, targets, right=False)
    stop = torch.searchsorted(ordered, targets, right=True)
    wide = values.to(torch.promote_types(values.dtype, torch.float32))
    prefix = F.pad(wide.cumsum(-1), (1, 0))  # prefix[..., j] = Σ_{j' < j}
    shape = (*values.shape[:-1], n_buckets)
    start, stop = (x.unsqueeze(1).expand(shape) for x in (start, stop))
    return (prefix.gather(-1, stop) - prefix.gather(-1, start)).to(values.dtype)


class BucketGather(torch.autograd.Function):
    """:func:`gather_offsets` whose backward is :func:`bucket_sums` of the incoming gradient
    (d per_offset[b, h, i, r] = Σ_{j in bucket r} d bias[b, h, i, j])."""

    @staticmethod
    def forward(ctx, per_offset: Tensor, index: Tensor) -> Tensor:  # type: ignore[override]
        ctx.save_for_backward(index)
        ctx.batch, ctx.n_buckets = per_offset.shape[0], per_offset.shape[-1]
        return _gather(per_offset, index)

    @staticmethod
    def backward(ctx, grad: Tensor) -> tuple[Tensor, None]:  # type: ignore[override]
        (index,) = ctx.saved_tensors
        sums = bucket_sums(grad, index, ctx.n_buckets, runs=True)
        if ctx.batch == 1 and sums.shape[0] > 1:  # per_offset was shared by the batch
            sums = sums.sum(0, keepdim=True)
        return sums, None


def is_contiguous_range(positions: Tensor) -> bool:
    """Whether ``positions`` is one shared row p, p+1, .., p+n−1 (the default positions), so
    that the offset of a pair is its query index minus its key index."""
    if positions.shape[0] != 1:
        return False
    if ranges.known(positions) is not None:  # made as a range: nothing to read
        return True
    n = positions.shape[-1]
    expected = torch.arange(n, device=positions.device) + positions[0, 0]
    return bool(torch.equal(positions[0], expected))


def bucket_value_attention(
    q: Tensor, k: Tensor, v: Tensor, buckets: Tensor, index: Tensor, values: Tensor,
    mask: Tensor,
) -> Tensor:  # fmt: skip
    """softmax(s)·v + Σ_j softmax(s)_ij·values[index_ij] with s = q·kᵀ/√d +
    buckets[b, h, i, index_ij] + mask, for (batch, heads, n, d) tensors, per-query bucket
    scores ``buckets`` (batch, heads, n, R) and per-bucket value embeddings ``values``
    (R, d): Shaw et al.'s relative values, which need the attention weights themselves, so
    the softmax is explicit (the weights' mass per bucket is :func:`bucket_sums`)."""
    scores = q @ k.transpose(-1, -2) / math.sqrt(q.shape[-1]) + mask
    weights = (scores + gather_offsets(buckets, index)).softmax(-1)
    return weights @ v + bucket_sums(weights, index, buckets.shape[-1]) @ values
