"""Polar coordinate position embeddings (Gopalakrishnan et al. 2025, "Decoupling the 'What'
and 'Where' With Polar Coordinate Positional Embeddings")."""

from __future__ import annotations

import math

import torch
import torch.nn.functional as F
from torch import Tensor, nn

from pebench.encodings.base import AttentionMask, ModelDims, PositionalEncoding
from pebench.kernels.rotary import polar_qk
from pebench.kernels.sdpa import attention


class PoPE(PositionalEncoding):
    """score(t, s) = Σ_c softplus(q_tc)·softplus(k_sc)·cos((t − s)·θ_c − δ_c) / √d, θ_c =
    base^(−c/d) for every one of the d head dimensions, δ_c a learned phase per layer, head
    and frequency, initialised to 0 (Gopalakrishnan et al. 2025).

    Content sets only the magnitudes and position only the phases, so what and where are not
    entangled as in RoPE. Computed as real attention over 2d dimensions:
    q̃ = [μ_q·cos(tθ), μ_q·sin(tθ)], k̃ = [μ_k·cos(sθ + δ), μ_k·sin(sθ + δ)], scaled to keep 1/√d.
    ``clamp_phase`` clamps δ to [−2π, 0] in every forward pass, as the authors' and
    x-transformers' code do (off by default: the paper states no range).
    """

    name = "pope"
    #: no key/value cache: attend transforms queries and keys together
    kv_cache = False
    relative = True
    kernel = "polar"

    def __init__(self, dims: ModelDims, base: float = 10000.0, clamp_phase: bool = False) -> None:
        super().__init__(dims)
        self.base, self.clamp_phase = base, clamp_phase
        d = dims.head_dim
        self.register_buffer(
            "inv_freq", base ** (-torch.arange(d, dtype=torch.float32) / d), persistent=False
        )
        self.phase = nn.Parameter(torch.zeros(dims.num_layers, dims.num_heads, d))

    def attend(
        self,
        q: Tensor,
        k: Tensor,
        v: Tensor,
        mask: AttentionMask,
        positions: Tensor,
        layer: int,
        x: Tensor,
    ) -> Tensor:
        angles = (positions.float().unsqueeze(-1) * self.inv_freq).unsqueeze(1)  # (B, 1, T, d)
        phase = self.phase[layer]
        if self.clamp_phase:
            phase = phase.clamp(-2 * math.pi, 0.0)
        # √2: SDPA divides by √(2d), PoPE by √d
        q_polar, k_polar = polar_qk(q, k, angles, angles + phase.unsqueeze(1), math.sqrt(2))
        # v padded to the 2d width of q̃, k̃: equal widths let SDPA take its fused kernel
        width = v.shape[-1]
        out = attention(
            q_polar, k_polar, F.pad(v, (0, q_polar.shape[-1] - width)),
            mask.additive, mask.is_causal,
        )  # fmt: skip
        return out[..., :width]
