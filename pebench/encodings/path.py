"""PaTH attention (Yang et al. 2025, "PaTH Attention: Position Encoding via Accumulating
Householder Transformations")."""

from __future__ import annotations

import math

import torch
import torch.nn.functional as F
from torch import Tensor, nn

from pebench.encodings.base import AttentionMask, ModelDims, PositionalEncoding
from pebench.kernels import fla
from pebench.kernels.chunked import recomputed


class PaTH(PositionalEncoding):
    """score(i, j) = q_iᵀ·H_i·H_{i−1}···H_{j+1}·k_j / √d with data-dependent Householder-like
    H_t = I − β_t·w_tw_tᵀ, w_t = normalize(W_w·x_t) per head, β_t = 2σ(u_h·x_t + b_h) ∈ (0, 2)
    (Yang et al. 2025).

    The products are never formed. Telescoping H_i···H_{j+1} = I − Σ_s (H_i···H_{s+1})β_sw_sw_sᵀ
    gives scores = QKᵀ − G·F with F_sj = β_s·w_s·k_j (s > j) and G_is = q_iᵀH_i···H_{s+1}w_s,
    which solves the unit lower-triangular system G·(I + E) = tril(QWᵀ), E_rs = β_r·w_r·w_s
    (r > s): T×T matrices per head and one triangular solve, O(T²) memory and O(T³) time,
    recomputed in backward on GPUs. On CUDA, flash-linear-attention's blockwise kernel
    (the paper's, O(T²) time, no T×T tensor) runs instead. pebench's w is one full-rank
    projection per layer, without the paper's low-rank factorisation and short convolution.
    Causal only: the transforms accumulate along the causal order.
    """

    name = "path"
    #: no key/value cache: attend solves over the whole sequence
    kv_cache = False
    relative = True
    fused_kernel = "path"
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
        if mask.fused:
            return fla.path(q, k, v, w, beta)
        additive = mask.dense(t, t, torch.float32, q.device)
        return recomputed(self.dense_attention, q, k, v, w, beta, additive)

    @staticmethod
    def dense_attention(
        q: Tensor, k: Tensor, v: Tensor, w: Tensor, beta: Tensor, mask: Tensor
    ) -> Tensor:
        """The reference: softmax(QKᵀ/√d − G·F/√d + mask)·V by one triangular solve per head,
        directions ``w`` (B, H, T, d) unit-norm, strengths ``beta`` (B, H, T)."""
        t, d = q.shape[-2], q.shape[-1]
        qf, kf = q.to(w.dtype), k.to(w.dtype)
        strictly_lower = torch.ones(t, t, dtype=torch.bool, device=q.device).tril(-1)
        e = (beta.unsqueeze(-1) * (w @ w.transpose(-1, -2))).masked_fill(~strictly_lower, 0.0)
        eye = torch.eye(t, dtype=w.dtype, device=q.device)
        g = torch.linalg.solve_triangular(
            eye + e, (qf @ w.transpose(-1, -2)).tril(), upper=False, left=False, unitriangular=True
        )
        f = (beta.unsqueeze(-1) * (w @ kf.transpose(-1, -2))).masked_fill(~strictly_lower, 0.0)
        scores = (qf @ kf.transpose(-1, -2) - g @ f) / math.sqrt(d) + mask
        return scores.softmax(-1).to(v.dtype) @ v
