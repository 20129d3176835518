"""The shared form of the KERPLE biases (Chi et al. 2022, "KERPLE: Kernelized Relative
Positional Embedding for Length Extrapolation"); the variants are kerple_log and kerple_power."""

from __future__ import annotations

from abc import abstractmethod

import torch
from torch import Tensor, nn

from pebench.encodings.base import ModelDims, PositionalEncoding
from pebench.encodings.relative import offsets

EPS = 1e-2


class KerpleBias(PositionalEncoding):
    """score(i, j) += −kernel(|i − j|; r1_h, r2_h) with positive r1, r2 learned per head.

    Symmetric in a bidirectional encoder. Subclasses define the kernel.
    """

    relative = True
    #: upper bound on r2 (the power variant needs r2 ≤ 2 for a conditionally positive kernel)
    max_r2: float | None = None

    def __init__(self, dims: ModelDims, init_r1: float = 1.0, init_r2: float = 1.0) -> None:
        super().__init__(dims)
        self.r1 = nn.Parameter(torch.full((dims.num_heads,), init_r1))
        self.r2 = nn.Parameter(torch.full((dims.num_heads,), init_r2))

    @abstractmethod
    def kernel(self, distance: Tensor, r1: Tensor, r2: Tensor) -> Tensor:
        """The (positive) penalty for distance ``distance`` (batch, 1, q_len, k_len)."""

    def attention_bias(self, q_positions: Tensor, k_positions: Tensor) -> Tensor:
        distance = offsets(q_positions, k_positions).abs().unsqueeze(1).float()
        r1 = self.r1.clamp(min=EPS).view(1, -1, 1, 1)
        r2 = self.r2.clamp(min=EPS, max=self.max_r2).view(1, -1, 1, 1)
        return -self.kernel(distance, r1, r2)
