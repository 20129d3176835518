"""Attention with linear biases (Press, Smith & Lewis 2022, "Train Short, Test Long")."""

from __future__ import annotations

import math

import torch
from torch import Tensor

from pebench.encodings.base import ModelDims, PositionalEncoding


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
    """score(i, j) += −m_h·|i − j| with fixed head slopes m_h (Press et al. 2022).

    In a causal decoder only j ≤ i is visible, so this is the paper's −m_h·(i − j). In a
    bidirectional encoder the bias is symmetric (it cannot tell left from right).
    """

    name = "alibi"
    relative = True

    def __init__(self, dims: ModelDims) -> None:
        super().__init__(dims)
        self.register_buffer("slopes", alibi_slopes(dims.num_heads), persistent=False)

    def attention_bias(self, q_positions: Tensor, k_positions: Tensor) -> Tensor:
        distance = (q_positions.unsqueeze(-1) - k_positions.unsqueeze(-2)).abs()  # (B, Tq, Tk)
        return -self.slopes.view(1, -1, 1, 1) * distance.unsqueeze(1).to(self.slopes.dtype)
