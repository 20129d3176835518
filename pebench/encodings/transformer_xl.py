"""Transformer-XL relative encoding (Dai et al. 2019, "Transformer-XL: Attentive Language
Models Beyond a Fixed-Length Context")."""

from __future__ import annotations

import math

import torch
from torch import Tensor, nn

from pebench.encodings.base import AttentionMask, ModelDims, PositionalEncoding
from pebench.encodings.relative import is_contiguous_range, offset_range
from pebench.encodings.sinusoidal import sinusoid_table
from pebench.kernels import ranges
from pebench.kernels.bias import BucketBias


class TransformerXL(PositionalEncoding):
    """e_ij = (q_i·k_j + q_i·W_R R_{i−j} + u·k_j + v·W_R R_{i−j})/√d, R the sinusoid of the
    signed distance, W_R per layer, global biases u, v per head shared by layers (Dai et al.
    2019).

    The position terms (q_i + v)·W_R R_r are computed once per distance r and gathered per
    (i, j) inside the attention kernel, whose backward sums their gradient straight back
    into the distances (a :class:`~pebench.kernels.bias.BucketBias`, gathered inside
    FlexAttention on a GPU or by :func:`~pebench.kernels.sdpa.bucket_biased_attention`: the
    relative shift of Dai et al. without its (n, 2n − 1) intermediates); u·k_j rides in the
    kernel as (q_i + u)·k_j.
    """

    name = "transformer_xl"
    #: no key/value cache: attend builds its relative terms over the whole sequence
    kv_cache = False
    relative = True
    kernel = "buckets"

    def __init__(self, dims: ModelDims) -> None:
        super().__init__(dims)
        self.project = nn.ModuleList(
            nn.Linear(dims.d_model, dims.d_model, bias=False) for _ in range(dims.num_layers)
        )
        self.u = nn.Parameter(torch.zeros(dims.num_heads, dims.head_dim))
        self.v = nn.Parameter(torch.zeros(dims.num_heads, dims.head_dim))

    @property
    def flex_attend(self) -> bool:
        return True

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
        d = offset_range(positions, positions)  # every i − j
        if is_contiguous_range(positions) and self.dims.causal:  # distances 0 .. T−1 only
            lo, hi = 0, t - 1  # j > i in a decoder: masked, any valid bucket will do
        else:  # one column per distinct distance
            ((lo, hi),) = ranges.bounds(d)
        table = sinusoid_table(torch.arange(lo, hi + 1, device=q.device), self.dims.d_model)
        rel = self.project[layer](table.to(q.dtype)).view(-1, *self.u.shape)  # (R, H, hd)
        rel = rel / math.sqrt(q.shape[-1])  # scaled here: (R, H, hd) is smaller than the scores
        position = torch.einsum("bhtd,rhd->bhtr", q + self.v[None, :, None].to(q.dtype), rel)
        # (q_i + u)·k_j carries the content bias u·k_j inside the attention kernel
        q_content = q + self.u[None, :, None].to(q.dtype)
        bias = BucketBias(position, d.clamp(min=lo) - lo, ranges.low(d))
        return self.attend_buckets(q_content, k, v, mask, positions, bias)
