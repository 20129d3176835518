"""A worked example of an encoding that is not in pebench's zoo, ranked with `pebench rank`
(see examples/README.md)."""

from __future__ import annotations

import torch
from torch import Tensor

from pebench.encodings.alibi import alibi_slopes
from pebench.encodings.base import ModelDims, PositionalEncoding
from pebench.encodings.relative import offset_range
from pebench.kernels.bias import OffsetTable


class LearnedSlopeALiBi(PositionalEncoding):
    """ALiBi with learned slopes: score(i, j) += −softplus(θ_h)·|i − j|.

    Press et al. (2022, "Train Short, Test Long") fix head h's slope to the geometric
    m_h = 2^(−8(h+1)/H). Here θ_h starts at softplus⁻¹(m_h), so training starts from ALiBi,
    and softplus keeps every slope positive (a bias that decays with distance).
    """

    name = "learned_alibi"
    relative = True

    def __init__(self, dims: ModelDims) -> None:
        super().__init__(dims)
        slopes = alibi_slopes(dims.num_heads)
        self.theta = torch.nn.Parameter(torch.log(torch.expm1(slopes)))

    def offset_bias(self, q_positions: Tensor, k_positions: Tensor) -> OffsetTable:
        d = offset_range(q_positions, k_positions)
        slopes = torch.nn.functional.softplus(self.theta)
        return OffsetTable(-slopes.unsqueeze(-1) * d.to(slopes.dtype).abs(), int(d[0]))
