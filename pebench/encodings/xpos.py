"""xPos: rotary embedding with exponential decay (Sun et al. 2022, "A Length-Extrapolatable
Transformer")."""

from __future__ import annotations

import torch
from torch import Tensor

from pebench.encodings.base import ModelDims
from pebench.encodings.rope import RoPE
from pebench.kernels.rotary import rotate_qk


class XPos(RoPE):
    """q_n ← ζ^{n/B}·R(nθ)q_n, k_m ← ζ^{−m/B}·R(mθ)k_m, ζ_i = (2i/r + γ)/(1 + γ), so
    q·k ∝ ζ^{(n−m)/B} decays with distance (Sun et al. 2022; γ = 0.4, B = 512).

    Causal only, as in the paper: in a bidirectional encoder keys after the query would be
    amplified instead of damped. The exponent is centred on the middle position c of each
    sequence, n → n − c (as in the authors' code): scores keep ζ^{(n−m)/B}, and ζ^{±n/B} stays
    finite in float32 for sequences up to ~70k positions wherever they start (uncentred it
    overflows past position ~36k with B = 512).
    """

    name = "xpos"
    #: no key/value cache: the exponent is centred on each call's positions, so keys
    #: cached at earlier steps would carry another centre
    kv_cache = False
    supports_bidirectional = False
    causal_only_reason = "keys after the query would be amplified instead of damped"

    def __init__(
        self, dims: ModelDims, base: float = 10000.0, gamma: float = 0.4, scale_base: float = 512.0
    ) -> None:
        super().__init__(dims, base=base)
        self.gamma, self.scale_base = gamma, scale_base
        pairs = torch.arange(0, self.rotary_dim, 2, dtype=torch.float32)
        self.register_buffer(
            "zeta", (pairs / self.rotary_dim + gamma) / (1 + gamma), persistent=False
        )

    def transform_qk(self, q: Tensor, k: Tensor, positions: Tensor) -> tuple[Tensor, Tensor]:
        angles = self.angles(positions)
        centre = (positions.amin(-1, keepdim=True) + positions.amax(-1, keepdim=True)) // 2
        power = (positions - centre).to(torch.float32) / self.scale_base
        scale = self.zeta ** power.unsqueeze(-1).unsqueeze(1)  # (B, 1, T, r/2)
        return rotate_qk(q, k, angles, self.rotary_dim, self.interleaved, scale, 1 / scale)
