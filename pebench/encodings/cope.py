"""Contextual position encoding (Golovneva et al. 2024, "Contextual Position Encoding:
Learning to Count What's Important")."""

from __future__ import annotations

import torch
from torch import Tensor, nn

from pebench.encodings.base import AttentionMask, ModelDims, PositionalEncoding
from pebench.kernels.cope import cope_attention


class CoPE(PositionalEncoding):
    """g_ij = σ(q_i·k_j/√d), p_ij = Σ_{k between j and i} g_ik, score += q_i·e(p_ij) with e
    linearly interpolated between learned e[⌊p⌋] and e[⌈p⌉], p clamped below ``max_positions``
    (Golovneva et al. 2024).

    Positions come from content, not from the position tensor, so the encoding is shift
    invariant. In a bidirectional encoder, keys after the query count gates from i to j.
    Position embeddings are per layer and shared by heads, as in the paper. As in the paper,
    q·e[m] is computed once per integer position m and interpolated by gathering. How it runs
    (the eager reference, or on CPU a block kernel that recomputes the (n, n) intermediates
    in backward) is :mod:`pebench.kernels.cope`'s choice.
    """

    name = "cope"
    #: no key/value cache: positions are counted over the whole sequence inside attend
    kv_cache = False
    relative = True
    kernel = "cope"

    def __init__(self, dims: ModelDims, npos: int = 128) -> None:
        super().__init__(dims)
        self.npos = npos
        self.embeddings = nn.Parameter(torch.zeros(dims.num_layers, dims.head_dim, npos))

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
        table = self.embeddings[layer].to(q.dtype)
        additive = mask.dense(t, t, q.dtype, q.device)
        return cope_attention(q, k, v, table, additive, self.dims.causal)
