"""Learned relative position representations (Shaw, Uszkoreit & Vaswani 2018,
"Self-Attention with Relative Position Representations")."""

from __future__ import annotations

import math

import torch
from torch import Tensor, nn

from pebench.encodings.base import AttentionMask, ModelDims, PositionalEncoding
from pebench.encodings.relative import offset_range
from pebench.kernels import ranges
from pebench.kernels.bias import BucketBias, bucket_value_attention


class Shaw(PositionalEncoding):
    """e_ij = q_i·(k_j + a^K_{clip(j−i, k)})/√d and, with ``values``, z_i = Σ_j α_ij (v_j +
    a^V_{clip(j−i, k)}); a^K, a^V learned per layer and shared by heads (Shaw et al. 2018).

    The q·a^K term is computed once per distinct clipped distance (2k + 1 of them) and
    gathered, never as a (T × T × d) tensor; it rides into the attention kernel as a bias
    whose gradient is summed straight back into the distances (a
    :class:`~pebench.kernels.bias.BucketBias`: gathered inside FlexAttention on a GPU, or
    by :func:`~pebench.kernels.sdpa.bucket_biased_attention`). Value embeddings need the
    attention weights, so ``values`` takes the explicit softmax path
    (:func:`~pebench.kernels.bias.bucket_value_attention`).
    """

    name = "shaw"
    #: no key/value cache: attend builds its relative terms over the whole sequence
    kv_cache = False
    relative = True
    kernel = "buckets"

    def __init__(self, dims: ModelDims, max_distance: int = 16, values: bool = False) -> None:
        super().__init__(dims)
        self.max_distance, self.values = max_distance, values
        size = (dims.num_layers, 2 * max_distance + 1, dims.head_dim)
        self.keys = nn.Parameter(torch.randn(size) * dims.head_dim**-0.5)
        self.value_table = nn.Parameter(torch.zeros(size)) if values else None
        if values:
            self.kernel = "bucket_values"

    @property
    def flex_attend(self) -> bool:
        return self.value_table is None  # value embeddings need the attention weights

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
        k_max = self.max_distance
        per_offset = torch.einsum("bhtd,rd->bhtr", q, self.keys[layer].to(q.dtype))
        per_offset = per_offset / math.sqrt(q.shape[-1])
        d = offset_range(positions, positions)  # every i − j; the bucket of j − i, clipped
        bias = BucketBias(per_offset, (-d).clamp(-k_max, k_max) + k_max, ranges.low(d))
        if self.value_table is None:
            return self.attend_buckets(q, k, v, mask, positions, bias)
        t = q.shape[-2]
        additive = mask.dense(t, t, q.dtype, q.device)
        values = self.value_table[layer].to(q.dtype)
        return bucket_value_attention(q, k, v, per_offset, bias.index(positions), values, additive)
