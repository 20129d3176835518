"""Transformer-XL relative encoding (Dai et al. 2019, "Transformer-XL: Attentive Language
Models Beyond a Fixed-Length Context")."""

from __future__ import annotations

import math

import torch
from torch import Tensor, nn

from pebench.encodings.attention import attention
from pebench.encodings.base import AttentionMask, ModelDims, PositionalEncoding
from pebench.encodings.relative import gather_offsets, offsets
from pebench.encodings.sinusoidal import sinusoid_table


class TransformerXL(PositionalEncoding):
    """e_ij = (q_i·k_j + q_i·W_R R_{i−j} + u·k_j + v·W_R R_{i−j})/√d, R the sinusoid of the
    signed distance, W_R per layer, global biases u, v per head shared by layers (Dai et al.
    2019).

    The position terms (q_i + v)·W_R R_r are computed once per distinct distance r and
    gathered; they and u·k_j join the additive mask of scaled_dot_product_attention.
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
        d = offsets(positions, positions)  # i − j
        lo, hi = int(d.min()), int(d.max())
        table = sinusoid_table(torch.arange(lo, hi + 1, device=q.device), self.dims.d_model)
        rel = self.project[layer](table.to(q.dtype)).view(-1, *self.u.shape)  # (R, H, hd)
        position = torch.einsum("bhtd,rhd->bhtr", q + self.v[None, :, None].to(q.dtype), rel)
        content = torch.einsum("hd,bhjd->bhj", self.u.to(q.dtype), k).unsqueeze(2)
        bias = (gather_offsets(position, d - lo) + content) / math.sqrt(q.shape[-1])
        t = q.shape[-2]
        return attention(q, k, v, mask.dense(t, t, q.dtype, q.device) + bias, False)
