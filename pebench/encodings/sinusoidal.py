"""Absolute sinusoidal encoding (Vaswani et al. 2017, "Attention Is All You Need")."""

from __future__ import annotations

import math

import torch
from torch import Tensor

from pebench.encodings.base import ModelDims, PositionalEncoding


def sinusoid_table(positions: Tensor, dim: int, base: float = 10000.0) -> Tensor:
    """PE[p, 2i] = sin(p·base^(−2i/dim)), PE[p, 2i+1] = cos(same); shape (..., dim)."""
    half = torch.arange(0, dim, 2, device=positions.device, dtype=torch.float32)
    inv_freq = torch.exp(-math.log(base) * half / dim)
    angles = positions.to(torch.float32).unsqueeze(-1) * inv_freq
    table = torch.zeros(*positions.shape, dim, device=positions.device)
    table[..., 0::2] = torch.sin(angles)
    table[..., 1::2] = torch.cos(angles[..., : dim // 2])
    return table


class Sinusoidal(PositionalEncoding):
    """x_p ← x_p + PE(p), PE(p)_{2i, 2i+1} = sin, cos(p/10000^{2i/d}) (Vaswani et al. 2017)."""

    name = "sinusoidal"

    def __init__(self, dims: ModelDims, base: float = 10000.0) -> None:
        super().__init__(dims)
        self.base = base

    def embed(self, x: Tensor, positions: Tensor) -> Tensor:
        return x + sinusoid_table(positions, x.shape[-1], self.base).to(x.dtype)
