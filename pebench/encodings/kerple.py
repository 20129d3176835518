"""The shared form of the KERPLE biases (Chi et al. 2022, "KERPLE: Kernelized Relative
Positional Embedding for Length Extrapolation"); the variants are kerple_log and kerple_power."""

from __future__ import annotations

from abc import abstractmethod

import torch
from torch import Tensor, nn

from pebench.encodings.base import ModelDims, PositionalEncoding
from pebench.encodings.relative import offset_range
from pebench.kernels import ranges
from pebench.kernels.bias import OffsetTable

EPS = 1e-2


class KerpleBias(PositionalEncoding):
    """score(i, j) += −kernel(|i − j|; r1_h, r2_h) with positive r1, r2 learned per head.

    Symmetric in a bidirectional encoder. Subclasses define the kernel. The constraints are
    kept as the authors do: the parameters' values are projected into range at each forward
    pass (``param.data.clamp``) rather than clamped inside the graph, so a parameter pushed to
    the boundary still gets a gradient and can move back.
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
        """The (positive) penalty for ``distance`` (n_distances,), r1 and r2 (heads, 1)."""

    def offset_bias(self, q_positions: Tensor, k_positions: Tensor) -> OffsetTable:
        d = offset_range(q_positions, k_positions)
        with torch.no_grad():
            self.r1.data.clamp_(min=EPS)
            self.r2.data.clamp_(min=EPS, max=self.max_r2)
        distance = d.abs().to(self.r1.dtype)
        penalty = self.kernel(distance, self.r1.unsqueeze(-1), self.r2.unsqueeze(-1))
        return OffsetTable(-penalty, ranges.low(d))
