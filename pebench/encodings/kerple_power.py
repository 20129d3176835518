"""KERPLE, power variant (Chi et al. 2022, "KERPLE: Kernelized Relative Positional Embedding
for Length Extrapolation")."""

from __future__ import annotations

import torch
from torch import Tensor, nn

from pebench.encodings.base import ModelDims, PositionalEncoding
from pebench.encodings.relative import offsets

EPS = 1e-2


class KerplePower(PositionalEncoding):
    """score(i, j) += −r1_h·|i − j|^{r2_h}, learned r1 > 0, 0 < r2 ≤ 2 per head (Chi et al. 2022).

    Symmetric in a bidirectional encoder.
    """

    name = "kerple_power"
    relative = True

    def __init__(self, dims: ModelDims, init_r1: float = 1.0, init_r2: float = 1.0) -> None:
        super().__init__(dims)
        self.r1 = nn.Parameter(torch.full((dims.num_heads,), init_r1))
        self.r2 = nn.Parameter(torch.full((dims.num_heads,), init_r2))

    def attention_bias(self, q_positions: Tensor, k_positions: Tensor) -> Tensor:
        distance = offsets(q_positions, k_positions).abs().unsqueeze(1).float()
        r1 = self.r1.clamp(min=EPS).view(1, -1, 1, 1)
        r2 = self.r2.clamp(min=EPS, max=2.0).view(1, -1, 1, 1)
        return -r1 * distance.clamp(min=EPS).pow(r2) * (distance > 0)
