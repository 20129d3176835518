"""Contextual position encoding (Golovneva et al. 2024, "Contextual Position Encoding:
Learning to Count What's Important")."""

from __future__ import annotations

import math

import torch
from torch import Tensor, nn

from pebench.encodings.base import AttentionMask, ModelDims, PositionalEncoding


class CoPE(PositionalEncoding):
    """g_ij = σ(q_i·k_j/√d), p_ij = Σ_{k between j and i} g_ik, score += q_i·e(p_ij) with e
    linearly interpolated between learned e[⌊p⌋] and e[⌈p⌉], p clamped below ``max_positions``
    (Golovneva et al. 2024).

    Positions come from content, not from the position tensor, so the encoding is shift
    invariant. In a bidirectional encoder, keys after the query count gates from i to j.
    Position embeddings are per layer and shared by heads, as in the paper.
    """

    name = "cope"
    #: no key/value cache: positions are counted over the whole sequence inside attend
    kv_cache = False
    relative = True

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
        logits = q @ k.transpose(-1, -2) / math.sqrt(q.shape[-1])
        logits = logits + mask.dense(t, t, q.dtype, q.device)
        gates = torch.sigmoid(logits)  # 0 where masked
        prefix = gates.cumsum(-1)  # S_ij = Σ_{k ≤ j} g_ik
        diag = prefix.diagonal(dim1=-2, dim2=-1).unsqueeze(-1)  # S_ii
        gate_ii = gates.diagonal(dim1=-2, dim2=-1).unsqueeze(-1)
        j_le_i = torch.ones(t, t, dtype=torch.bool, device=q.device).tril()
        pos = torch.where(j_le_i, diag - prefix + gates, prefix - diag + gate_ii)
        pos = pos.clamp(max=self.npos - 1)
        per_position = q @ self.embeddings[layer].to(q.dtype)  # (B, H, T, npos)
        floor = pos.floor()
        weight = pos - floor
        low = per_position.gather(-1, floor.long())
        high = per_position.gather(-1, pos.ceil().long())
        weights = (logits + high * weight + low * (1 - weight)).softmax(-1)
        return weights @ v
