"""PaTH attention (Yang et al. 2025, "PaTH Attention: Position Encoding via Accumulating
Householder Transformations")."""

from __future__ import annotations

import torch
import torch.nn.functional as F
from torch import Tensor, nn

from pebench.encodings.base import AttentionMask, ModelDims, PositionalEncoding
from pebench.kernels.path import path_attention


class PaTH(PositionalEncoding):
    """score(i, j) = q_iᵀ·H_i·H_{i−1}···H_{j+1}·k_j / √d with data-dependent Householder-like
    H_t = I − β_t·w_tw_tᵀ, w_t = normalize(W_w·x_t) per head, β_t = 2σ(u_h·x_t + b_h) ∈ (0, 2)
    (Yang et al. 2025).

    The products are never formed. Telescoping H_i···H_{j+1} = I − Σ_s (H_i···H_{s+1})β_sw_sw_sᵀ
    gives scores = QKᵀ − G·F with F_sj = β_s·w_s·k_j (s > j) and G_is = q_iᵀH_i···H_{s+1}w_s,
    which solves the unit lower-triangular system G·(I + E) = tril(QWᵀ), E_rs = β_r·w_r·w_s
    (r > s): T×T matrices per head and one triangular solve, O(T²) memory and O(T³) time,
    recomputed in backward on GPUs. On CUDA, flash-linear-attention's blockwise kernel
    (the paper's, O(T²) time, no T×T tensor) runs instead (:mod:`pebench.kernels.path`).
    pebench's w is one full-rank projection per layer, without the paper's low-rank
    factorisation and short convolution.
    Causal only: the transforms accumulate along the causal order.
    """

    name = "path"
    #: no key/value cache: attend solves over the whole sequence
    kv_cache = False
    relative = True
    fused_kernel = "path"
    kernel = "path"
    supports_bidirectional = False
    causal_only_reason = (
        "its Householder transforms accumulate from each key forward to the query (the paper "
        "defines no bidirectional form)"
    )

    def __init__(self, dims: ModelDims) -> None:
        super().__init__(dims)
        self.directions = nn.ModuleList(
            nn.Linear(dims.d_model, dims.d_model, bias=False) for _ in range(dims.num_layers)
        )
        self.strengths = nn.ModuleList(
            nn.Linear(dims.d_model, dims.num_heads) for _ in range(dims.num_layers)
        )

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
        b, h, t, d = q.shape
        dtype = torch.promote_types(q.dtype, torch.float32)  # float32 at least: the solve
        w = self.directions[layer](x).view(b, t, h, d).transpose(1, 2).to(dtype)
        w = F.normalize(w, dim=-1)
        beta = 2 * torch.sigmoid(self.strengths[layer](x).to(dtype)).transpose(1, 2)  # (B, H, T)
        return path_attention(q, k, v, w, beta, mask)
