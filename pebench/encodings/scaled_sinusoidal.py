"""Scaled sinusoidal encoding (Hua et al. 2022, "Transformer Quality in Linear Time")."""

from __future__ import annotations

import torch
from torch import Tensor, nn

from pebench.encodings.base import ModelDims, PositionalEncoding
from pebench.encodings.sinusoidal import sinusoid_table


class ScaledSinusoidal(PositionalEncoding):
    """x_p ← x_p + α·PE(p), PE the sinusoid table of Vaswani et al., α a learned scalar
    initialised to d^(−1/2) (Hua et al. 2022)."""

    name = "scaled_sinusoidal"

    def __init__(self, dims: ModelDims, base: float = 10000.0) -> None:
        super().__init__(dims)
        self.base = base
        self.scale = nn.Parameter(torch.tensor(dims.d_model**-0.5))

    def embed(self, x: Tensor, positions: Tensor) -> Tensor:
        return x + self.scale * sinusoid_table(positions, x.shape[-1], self.base).to(x.dtype)
