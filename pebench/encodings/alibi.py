"""Attention with linear biases (Press, Smith & Lewis 2022, "Train Short, Test Long")."""

from __future__ import annotations

import math
from typing import Literal

import torch
from torch import Tensor

from pebench.encodings.base import ModelDims, PositionalEncoding
from pebench.encodings.relative import offset_range
from pebench.errors import PebenchError
from pebench.kernels import ranges
from pebench.kernels.bias import OffsetTable


def alibi_slopes(num_heads: int) -> Tensor:
    """Head slopes m_h: the geometric sequence 2^(-8h/n) for n a power of two; otherwise the
    slopes of the nearest lower power of two followed by every other slope of twice that many
    (Press et al. 2022, and their reference implementation)."""

    def power_of_two(n: int) -> list[float]:
        start = 2 ** (-8 / n)
        return [start ** (h + 1) for h in range(n)]

    if math.log2(num_heads).is_integer():
        slopes = power_of_two(num_heads)
    else:
        lower = 2 ** math.floor(math.log2(num_heads))
        slopes = power_of_two(lower) + power_of_two(2 * lower)[0::2][: num_heads - lower]
    return torch.tensor(slopes, dtype=torch.float32)


class ALiBi(PositionalEncoding):
    """score(i, j) += −m_h·(i − j) for keys j ≤ i, fixed head slopes m_h (Press et al. 2022).

    A causal decoder sees only j ≤ i: the paper's formulation. For keys after the query (a
    bidirectional encoder) ``bidirectional`` chooses: ``symmetric`` (default) uses
    −m_h·|i − j|, the form encoder ports of ALiBi use, which cannot tell left from right;
    ``directional`` (pebench's own variant) gives head h the slope of head H−1−h to its right
    (the slope list mirrored), so every head except a middle one decays at a different rate on
    each side and the model can tell the two directions apart. An encoder run records the
    choice as its ``variant``.
    """

    name = "alibi"
    relative = True
    static_bias = True

    def __init__(
        self, dims: ModelDims, bidirectional: Literal["symmetric", "directional"] = "symmetric"
    ) -> None:
        super().__init__(dims)
        if bidirectional not in ("symmetric", "directional"):
            raise PebenchError(
                f"alibi bidirectional must be 'symmetric' or 'directional', got {bidirectional!r}"
            )
        self.bidirectional = bidirectional
        slopes = alibi_slopes(dims.num_heads)
        right = slopes.flip(0) if bidirectional == "directional" else slopes
        self.register_buffer("slopes", slopes, persistent=False)
        self.register_buffer("right_slopes", right, persistent=False)

    @property
    def variant(self) -> str:
        return "" if self.dims.causal else self.bidirectional

    def offset_bias(self, q_positions: Tensor, k_positions: Tensor) -> OffsetTable:
        d = offset_range(q_positions, k_positions)
        distance = d.to(self.slopes.dtype)
        left = -self.slopes.unsqueeze(-1) * distance.clamp(min=0)  # (heads, offsets)
        if not self.dims.causal:
            left = left - self.right_slopes.unsqueeze(-1) * (-distance).clamp(min=0)
        return OffsetTable(left, ranges.low(d))
