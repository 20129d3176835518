"""Stick-breaking attention (Tan et al. 2025): the eager reference, its query-chunked form and
flash-linear-attention's Triton kernel, and :func:`stick_breaking_attention` choosing.

A_ij = β_ij·Π_{j<k<i}(1 − β_ik), β_ij = σ(q_i·k_j/√d), output Σ_j A_ij·v_j. In log space
log A_ij = log σ(s_ij) + Σ_{j<k<i} log σ(−s_ik): one cumulative sum along each query's keys,
so blocks of queries are exact (:mod:`pebench.kernels.chunked`).
"""

from __future__ import annotations

import math

import torch
import torch.nn.functional as F
from torch import Tensor

from pebench.kernels import dispatch, fla
from pebench.kernels.chunked import by_query_chunks, mask_rows
from pebench.kernels.mask import MaskLike


def stick_breaking_attention(
    q: Tensor,
    k: Tensor,
    v: Tensor,
    mask: MaskLike,
    causal: bool,
    attend_current: bool,
    remainder: bool,
) -> Tensor:
    """Stick-breaking attention of (batch, heads, n, d) tensors under the model's ``mask``:
    flash-linear-attention's kernel when the model chose it (CUDA, causal, nothing but the
    causal mask), else on a GPU one block of queries at a time, on CPU the reference as it
    stands (:func:`pebench.kernels.dispatch.own_path` names which)."""
    if mask.fused:
        out, rest = fla.stick_breaking(q, k, v, attend_current)
        return out + rest.unsqueeze(-1).to(v.dtype) * v if remainder else out
    t = q.shape[-2]
    dense = mask.dense(t, t, torch.float32, q.device)
    if dispatch.own_path("stick_breaking", q.device, causal) == "naive":
        return stick_breaking_rows(q, k, v, dense, 0, causal, attend_current, remainder)
    return chunked_attention(q, k, v, dense, causal, attend_current, remainder)


def chunked_attention(
    q: Tensor,
    k: Tensor,
    v: Tensor,
    mask: Tensor,
    causal: bool,
    attend_current: bool,
    remainder: bool,
    chunk: int | None = None,
) -> Tensor:
    """Stick-breaking attention ``chunk`` queries at a time (by default
    :func:`pebench.kernels.chunked.query_chunk`'s size), checkpointed with gradients."""
    return by_query_chunks(
        lambda start, stop: stick_breaking_rows(
            q[..., start:stop, :], k, v, mask_rows(mask, start, stop), start, causal,
            attend_current, remainder,
        ),
        q, k.shape[-2], chunk,
    )  # fmt: skip


def stick_breaking_rows(
    q: Tensor,
    k: Tensor,
    v: Tensor,
    mask: Tensor,
    start: int,
    causal: bool,
    attend_current: bool,
    remainder: bool,
) -> Tensor:
    """The reference for queries ``start``…``start + len(q) − 1`` against all keys (queries
    and keys (..., n, d); ``mask`` additive, those queries' rows). ``attend_current`` lets the
    query's own key take the first piece; ``remainder`` adds what is left of the stick,
    (1 − Σ_j A_ij)·v_i, to the output. In a bidirectional encoder keys after the query break
    a second stick from the query rightwards, and with ``remainder`` its leftover goes to v_i
    too."""
    rows, t = q.shape[-2], k.shape[-2]
    dtype = torch.promote_types(q.dtype, torch.float32)  # float32 at least: log space
    scores = (q.to(dtype) @ k.to(dtype).transpose(-1, -2)) / math.sqrt(q.shape[-1])
    query = torch.arange(start, start + rows, device=q.device).unsqueeze(-1)  # (rows, 1)
    key = torch.arange(t, device=q.device)
    eye, before = key == query, key < query
    blocked = mask == float("-inf")
    if not attend_current:
        blocked = blocked | eye
    scores = scores.masked_fill(blocked, float("-inf"))
    log_beta = F.logsigmoid(scores)  # −inf where blocked: that key takes no piece
    log_rest = F.logsigmoid(-scores)  # 0 where blocked: it leaves the stick whole
    prefix = log_rest.cumsum(-1)  # P_ij = Σ_{k ≤ j} log(1 − β_ik)
    # P_ii and log(1 − β_ii): query i's own key lies on the diagonal shifted by ``start`` (a
    # view, so autograd keeps no copy of the (rows, n) tensors, as gather's backward would)
    at_query = prefix.diagonal(start, dim1=-2, dim2=-1).unsqueeze(-1)
    rest_at_query = log_rest.diagonal(start, dim1=-2, dim2=-1).unsqueeze(-1)
    left = at_query - prefix  # Σ_{j<k≤i}, for j < i
    right = prefix - log_rest - at_query + rest_at_query  # Σ_{i≤k<j}, for j > i
    log_weights = log_beta + torch.where(before, left, torch.where(eye, 0.0, right))
    weights = log_weights.exp()
    out = weights.to(v.dtype) @ v
    if not remainder:
        return out
    own = v[..., start : start + rows, :]
    left_taken = (weights * (before | eye)).sum(-1, keepdim=True)  # the stick up to i
    leftover = 1 - left_taken
    if not causal:  # the right-hand stick's leftover as well
        leftover = leftover + 1 - (weights * ~(before | eye)).sum(-1, keepdim=True)
    return out + leftover.to(v.dtype) * own
