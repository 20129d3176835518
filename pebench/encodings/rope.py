"""Rotary position embedding (Su et al. 2021, "RoFormer: Enhanced Transformer with Rotary
Position Embedding"), with partial rotation, two pairings, and length extension at
evaluation (Chen et al. 2023 position interpolation; NTK-aware base scaling)."""

from __future__ import annotations

from typing import Literal

import torch
from torch import Tensor

from pebench.encodings.base import ModelDims, PositionalEncoding
from pebench.errors import PebenchError

Extension = Literal["none", "interpolation", "ntk"]


class RoPE(PositionalEncoding):
    """q_p, k_p ← R(p·θ_i) on pairs of the first ``fraction`` of head dims, θ_i = base^(−2i/r)
    (Su et al. 2021).

    Since R(a)ᵀR(b) = R(b − a), q·k depends only on the distance between positions.

    Options: ``fraction`` of each head's dimensions rotated (1.0, 0.5 and 0.25 appear in the
    literature; the rest pass unchanged); ``interleaved`` pairs (x_{2i}, x_{2i+1}) as in the
    paper, otherwise (x_i, x_{i+r/2}) as in GPT-NeoX; ``extension`` applies only in evaluation
    mode with factor s = ``extension_factor``: ``interpolation`` rescales positions p → p/s
    (Chen et al. 2023), ``ntk`` raises the base to base·s^(r/(r−2)) (NTK-aware scaling).
    """

    name = "rope"
    relative = True

    def __init__(
        self,
        dims: ModelDims,
        base: float = 10000.0,
        fraction: float = 1.0,
        interleaved: bool = False,
        extension: Extension = "none",
        extension_factor: float = 1.0,
    ) -> None:
        super().__init__(dims)
        if not 0 < fraction <= 1:
            raise PebenchError(f"rope fraction must be in (0, 1], got {fraction}")
        rotary = int(dims.head_dim * fraction) // 2 * 2
        if rotary < 2:
            raise PebenchError(
                f"rope rotates {fraction} of head dimension {dims.head_dim}, fewer than one pair; "
                f"raise fraction or the head dimension"
            )
        if extension not in ("none", "interpolation", "ntk"):
            raise PebenchError(
                f"rope extension must be 'none', 'interpolation' or 'ntk', got {extension!r}"
            )
        if extension_factor < 1:
            raise PebenchError(f"rope extension_factor must be >= 1, got {extension_factor}")
        self.base, self.fraction, self.interleaved = base, fraction, interleaved
        self.extension, self.extension_factor = extension, extension_factor
        self.rotary_dim = rotary
        self.register_buffer("inv_freq", self.frequencies(base), persistent=False)
        ntk_base = base * extension_factor ** (rotary / (rotary - 2)) if rotary > 2 else base
        self.register_buffer("ntk_inv_freq", self.frequencies(ntk_base), persistent=False)

    def frequencies(self, base: float) -> Tensor:
        """θ_i = base^(−2i/r) for the r/2 rotated pairs."""
        return base ** (-torch.arange(0, self.rotary_dim, 2, dtype=torch.float32) / self.rotary_dim)

    def angles(self, positions: Tensor) -> Tensor:
        """p·θ_i, shape (batch, 1, length, r/2), with length extension applied in eval mode."""
        positions = positions.to(torch.float32)
        inv_freq = self.inv_freq
        if not self.training and self.extension == "interpolation":
            positions = positions / self.extension_factor
        elif not self.training and self.extension == "ntk":
            inv_freq = self.ntk_inv_freq
        return (positions.unsqueeze(-1) * inv_freq).unsqueeze(1)

    def rotate(self, x: Tensor, angles: Tensor, scale: Tensor | None = None) -> Tensor:
        """Rotate the first r dims of ``x`` pairwise by ``angles`` (optionally scaled)."""
        rot, rest = x[..., : self.rotary_dim].float(), x[..., self.rotary_dim :]
        cos, sin = angles.cos(), angles.sin()
        if scale is not None:
            cos, sin = cos * scale, sin * scale
        if self.interleaved:
            a, b = rot[..., 0::2], rot[..., 1::2]
            rotated = torch.stack((a * cos - b * sin, b * cos + a * sin), dim=-1).flatten(-2)
        else:
            a, b = rot.chunk(2, dim=-1)
            rotated = torch.cat((a * cos - b * sin, b * cos + a * sin), dim=-1)
        return torch.cat((rotated.to(x.dtype), rest), dim=-1)

    def transform_qk(self, q: Tensor, k: Tensor, positions: Tensor) -> tuple[Tensor, Tensor]:
        angles = self.angles(positions)
        return self.rotate(q, angles), self.rotate(k, angles)
