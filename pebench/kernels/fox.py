"""Forgetting attention (FoX, Lin et al. 2025): the dense reference, SDPA with the gates
folded into q·k, and flash-linear-attention's kernel, with :func:`forgetting_attention`
running the one :func:`pebench.kernels.dispatch.own_path` names.

softmax(q·kᵀ/√d + c_i − c_j + mask)·v with c the cumulative sum of log forget gates; keys
after the query (a bidirectional encoder, pebench's extension) decay by −|c_i − c_j|.
"""

from __future__ import annotations

from torch import Tensor

from pebench.kernels import dispatch, fla
from pebench.kernels.mask import MaskLike
from pebench.kernels.sdpa import attention, gated_causal_attention


def forgetting_attention(
    q: Tensor, k: Tensor, v: Tensor, log_forget: Tensor, mask: MaskLike, causal: bool
) -> Tensor:
    """FoX attention of (batch, heads, n, d) tensors with log forget gates ``log_forget``
    (batch, heads, n): fla's kernel when the model chose it, causal SDPA with the gates as two
    extra dimensions of q and k, else (bidirectional) :func:`naive_attention`."""
    if mask.fused:
        return fla.forgetting(q, k, v, log_forget)
    total = log_forget.cumsum(-1)
    if dispatch.own_path("fox", q.device, causal) == "sdpa-gated":
        return gated_causal_attention(q, k, v, mask.additive, mask.is_causal, total)
    t = q.shape[-2]
    return naive_attention(q, k, v, total, mask.dense(t, t, q.dtype, q.device))


def naive_attention(q: Tensor, k: Tensor, v: Tensor, total: Tensor, mask: Tensor) -> Tensor:
    """The reference, bidirectional: softmax(q·kᵀ/√d − |c_i − c_j| + mask)·v for cumulative
    log forget gates ``total`` (c_i − c_j ≤ 0 for j ≤ i, as every log σ ≤ 0)."""
    bias = -(total.unsqueeze(-1) - total.unsqueeze(-2)).abs()
    return attention(q, k, v, mask + bias.to(q.dtype), False)
