"""Helpers shared by relative-position encodings (not an encoding itself)."""

from __future__ import annotations

from torch import Tensor

from pebench.kernels import ranges
from pebench.kernels.bias import gather_offsets, is_contiguous_range

__all__ = ["gather_offsets", "is_contiguous_range", "offset_range", "offsets"]


def offsets(q_positions: Tensor, k_positions: Tensor) -> Tensor:
    """Signed distances i − j between query and key positions, shape (batch, q_len, k_len).

    Positive where the key lies before the query (the past), negative where it lies after.
    """
    return q_positions.unsqueeze(-1) - k_positions.unsqueeze(-2)


def offset_range(q_positions: Tensor, k_positions: Tensor) -> Tensor:
    """Every offset i − j that query and key positions can form, as one ascending range
    (what an :class:`~pebench.kernels.bias.OffsetTable` is evaluated over)."""
    (q_min, q_max), (k_min, k_max) = ranges.bounds(q_positions, k_positions)
    low, high = q_min - k_max, q_max - k_min
    return ranges.arange(low, high + 1, device=q_positions.device)
