"""Rotary position embedding (Su et al. 2021, "RoFormer: Enhanced Transformer with Rotary
Position Embedding")."""

from __future__ import annotations

import torch
from torch import Tensor

from pebench.encodings.base import ModelDims, PositionalEncoding
from pebench.errors import PebenchError


class RoPE(PositionalEncoding):
    """q_p, k_p ← R(p·θ_i) on pairs (x_i, x_{i+d/2}), θ_i = base^(−2i/d) (Su et al. 2021).

    Pairs are half-split (GPT-NeoX layout). Since R(a)ᵀR(b) = R(b−a), q·k depends only on
    the distance between positions.
    """

    name = "rope"
    relative = True

    def __init__(self, dims: ModelDims, base: float = 10000.0) -> None:
        super().__init__(dims)
        if dims.head_dim % 2:
            raise PebenchError(
                f"rope needs an even head dimension, got {dims.head_dim} "
                f"(d_model {dims.d_model} / {dims.num_heads} heads); change d_model or num_heads"
            )
        self.base = base
        half = dims.head_dim // 2
        inv_freq = base ** (-torch.arange(half, dtype=torch.float32) / half)
        self.register_buffer("inv_freq", inv_freq, persistent=False)

    def _rotate(self, x: Tensor, cos: Tensor, sin: Tensor) -> Tensor:
        x1, x2 = x.chunk(2, dim=-1)
        return torch.cat((x1 * cos - x2 * sin, x2 * cos + x1 * sin), dim=-1).to(x.dtype)

    def transform_qk(self, q: Tensor, k: Tensor, positions: Tensor) -> tuple[Tensor, Tensor]:
        angles = positions.to(torch.float32).unsqueeze(-1) * self.inv_freq  # (B, T, half)
        cos, sin = angles.cos().unsqueeze(1), angles.sin().unsqueeze(1)  # (B, 1, T, half)
        return self._rotate(q, cos, sin), self._rotate(k, cos, sin)
