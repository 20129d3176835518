"""Forgetting Transformer (Lin et al. 2025, "Forgetting Transformer: Softmax Attention with a
Forget Gate", ICLR 2025)."""

from __future__ import annotations

import torch
import torch.nn.functional as F
from torch import Tensor, nn

from pebench.encodings.base import AttentionMask, ModelDims, PositionalEncoding
from pebench.kernels.fox import forgetting_attention


class ForgettingAttention(PositionalEncoding):
    """score(i, j) += Σ_{l=j+1..i} log σ(f_l), f_l = w_h·x_l + b_h a scalar forget gate per
    head, token and layer, projected from the layer's input (Lin et al. 2025).

    The gates are the only positional signal (the paper's FoX uses no other). With
    c_i = Σ_{l≤i} log σ(f_l), the bias is c_i − c_j: one cumulative sum per layer, folded
    into SDPA's q·k or, on CUDA, flash-linear-attention's FoX kernel
    (:mod:`pebench.kernels.fox`). In a bidirectional encoder (pebench's extension; the
    paper is causal) keys after the query decay through the gates between them: −|c_i − c_j|.
    """

    name = "fox"
    #: no key/value cache: attend needs the forget gates of the whole sequence
    kv_cache = False
    relative = True
    fused_kernel = "fox"
    kernel = "fox"

    def __init__(self, dims: ModelDims) -> None:
        super().__init__(dims)
        self.gates = nn.ModuleList(
            nn.Linear(dims.d_model, dims.num_heads) for _ in range(dims.num_layers)
        )

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
        gates = self.gates[layer](x)
        log_forget = F.logsigmoid(gates.to(torch.promote_types(gates.dtype, torch.float32)))
        log_forget = log_forget.transpose(1, 2)  # (B, H, T), float32 at least
        return forgetting_attention(q, k, v, log_forget, mask, self.dims.causal)
