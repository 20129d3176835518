"""Compact forms of a score bias, so a kernel can apply it without a (batch, heads, q, k)
tensor: a per-head table over query−key offsets, and per-query bucket scores."""

from __future__ import annotations

from dataclasses import dataclass

import torch
import torch.nn.functional as F
from torch import Tensor


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

    def index(self, positions: Tensor) -> Tensor:
        """The bucket of every (query, key) pair, (batch or 1, n, n) (the SDPA path)."""
        return self.buckets[positions.unsqueeze(-1) - positions.unsqueeze(-2) - self.low]


def gather_offsets(per_offset: Tensor, index: Tensor) -> Tensor:
    """Pick per-offset scores for every (query, key) pair.

    ``per_offset`` (batch, heads, q_len, n_offsets) holds a score for each query and each
    offset bucket; ``index`` (batch, q_len, k_len) holds the bucket of each pair. Returns
    (batch, heads, q_len, k_len). This is how Shaw et al. and Transformer-XL avoid building
    a (q_len × k_len × head_dim) tensor of relative embeddings.
    """
    b, h, q_len, _ = per_offset.shape
    index = index.unsqueeze(1).expand(b if index.shape[0] == 1 else index.shape[0], h, q_len, -1)
    return per_offset.expand(index.shape[0], -1, -1, -1).gather(-1, index)


def is_contiguous_range(positions: Tensor) -> bool:
    """Whether ``positions`` is one shared row p, p+1, .., p+n−1 (the default positions), so
    that the offset of a pair is its query index minus its key index."""
    if positions.shape[0] != 1:
        return False
    n = positions.shape[-1]
    expected = torch.arange(n, device=positions.device) + positions[0, 0]
    return bool(torch.equal(positions[0], expected))
