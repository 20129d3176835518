"""PaTH attention (Yang et al. 2025): the dense reference by one triangular solve, recomputed
in backward on GPUs, and flash-linear-attention's blockwise kernel, with
:func:`path_attention` running the one the model chose."""

from __future__ import annotations

import math

import torch
from torch import Tensor

from pebench.kernels import fla
from pebench.kernels.chunked import recomputed
from pebench.kernels.mask import MaskLike


def path_attention(
    q: Tensor, k: Tensor, v: Tensor, w: Tensor, beta: Tensor, mask: MaskLike
) -> Tensor:
    """PaTH attention of (batch, heads, n, d) tensors with unit directions ``w`` (batch,
    heads, n, d) and strengths ``beta`` (batch, heads, n) in (0, 2): fla's kernel when the
    model chose it, else :func:`naive_attention` (recomputed in backward on GPUs)."""
    if mask.fused:
        return fla.path(q, k, v, w, beta)
    t = q.shape[-2]
    additive = mask.dense(t, t, torch.float32, q.device)
    return recomputed(naive_attention, q, k, v, w, beta, additive)


def naive_attention(
    q: Tensor, k: Tensor, v: Tensor, w: Tensor, beta: Tensor, mask: Tensor
) -> Tensor:
    """The reference: softmax(QKᵀ/√d − G·F/√d + mask)·V, with F_sj = β_s·w_s·k_j (s > j) and
    G solving the unit lower-triangular G·(I + E) = tril(QWᵀ), E_rs = β_r·w_r·w_s (r > s):
    T×T matrices per head, O(T²) memory and O(T³) time."""
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
