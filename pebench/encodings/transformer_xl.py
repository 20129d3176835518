"""Transformer-XL relative encoding (Dai et al. 2019, "Transformer-XL: Attentive Language
Models Beyond a Fixed-Length Context")."""

from __future__ import annotations

import math

import torch
from torch import Tensor, nn

from pebench.encodings.attention import attention
from pebench.encodings.base import AttentionMask, ModelDims, PositionalEncoding
from pebench.encodings.relative import (
    gather_offsets,
    is_contiguous_range,
    offsets,
    relative_shift,
)
from pebench.encodings.sinusoidal import sinusoid_table


class TransformerXL(PositionalEncoding):
    """e_ij = (q_i·k_j + q_i·W_R R_{i−j} + u·k_j + v·W_R R_{i−j})/√d, R the sinusoid of the
    signed distance, W_R per layer, global biases u, v per head shared by layers (Dai et al.
    2019).

    The position terms (q_i + v)·W_R R_r are computed once per distance r and read back per
    (i, j) by the relative shift (a strided view; a gather for irregular positions); they
    join the additive mask, and u·k_j rides in the kernel as (q_i + u)·k_j.
    """

    name = "transformer_xl"
    #: no key/value cache: attend builds its relative terms over the whole sequence
    kv_cache = False
    relative = True

    def __init__(self, dims: ModelDims) -> None:
        super().__init__(dims)
        self.project = nn.ModuleList(
            nn.Linear(dims.d_model, dims.d_model, bias=False) for _ in range(dims.num_layers)
        )
        self.u = nn.Parameter(torch.zeros(dims.num_heads, dims.head_dim))
        self.v = nn.Parameter(torch.zeros(dims.num_heads, dims.head_dim))

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
        t = q.shape[-2]
        shift = is_contiguous_range(positions)
        if shift:  # distances T−1 .. 0 (decoder) or .. −(T−1), read back by a strided view
            lo = 0 if self.dims.causal else -(t - 1)
            distances = torch.arange(t - 1, lo - 1, -1, device=q.device)
        else:  # arbitrary positions: one column per distinct distance, gathered
            d = offsets(positions, positions)  # i − j
            lo, hi = int(d.min()), int(d.max())
            distances = torch.arange(lo, hi + 1, device=q.device)
        table = sinusoid_table(distances, self.dims.d_model).to(q.dtype)
        rel = self.project[layer](table).view(-1, *self.u.shape)  # (R, H, hd)
        position = torch.einsum("bhtd,rhd->bhtr", q + self.v[None, :, None].to(q.dtype), rel)
        scores = relative_shift(position, self.dims.causal) if shift else (
            gather_offsets(position, d - lo)
        )
        bias = scores / math.sqrt(q.shape[-1])
        # (q_i + u)·k_j carries the content bias u·k_j inside the attention kernel
        q_content = q + self.u[None, :, None].to(q.dtype)
        return attention(q_content, k, v, mask.dense(t, t, q.dtype, q.device) + bias, False)
