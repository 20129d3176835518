"""The eager reference every attention path is pinned to: softmax(q·kᵀ/√d + bias)·v written
out in plain tensor operations (as flash-linear-attention keeps ``naive.py`` beside its fast
kernels). Slow and memory-hungry on purpose: it is what the tests compare against."""

from __future__ import annotations

import torch
from torch import Tensor


def naive_attention(
    q: Tensor,
    k: Tensor,
    v: Tensor,
    bias: Tensor | None = None,
    causal: bool = False,
    padding: Tensor | None = None,
) -> Tensor:
    """softmax(q·kᵀ/√d + bias)·v of (batch, heads, n, d) tensors; keys after the query
    (``causal``, queries aligned to the last keys) and padded keys (``padding`` (batch, k_len)
    True at pads) get −inf."""
    scores = q @ k.transpose(-1, -2) * q.shape[-1] ** -0.5
    if bias is not None:
        scores = scores + bias
    q_len, k_len = q.shape[-2], k.shape[-2]
    if causal:
        future = torch.ones(q_len, k_len, dtype=torch.bool, device=q.device).triu(
            k_len - q_len + 1
        )
        scores = scores.masked_fill(future, float("-inf"))
    if padding is not None:
        scores = scores.masked_fill(padding[:, None, None, :], float("-inf"))
    return scores.softmax(-1) @ v
