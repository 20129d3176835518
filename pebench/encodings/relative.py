"""Helpers shared by relative-position encodings (not an encoding itself)."""

from __future__ import annotations

import torch
from torch import Tensor


def offsets(q_positions: Tensor, k_positions: Tensor) -> Tensor:
    """Signed distances i − j between query and key positions, shape (batch, q_len, k_len).

    Positive where the key lies before the query (the past), negative where it lies after.
    """
    return q_positions.unsqueeze(-1) - k_positions.unsqueeze(-2)


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
    """Whether ``positions`` is one shared row p, p+1, .., p+n−1 (the default positions)."""
    if positions.shape[0] != 1:
        return False
    n = positions.shape[-1]
    expected = torch.arange(n, device=positions.device) + positions[0, 0]
    return bool(torch.equal(positions[0], expected))
