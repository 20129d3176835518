"""Stick-breaking attention (Tan et al. 2025, "Scaling Stick-Breaking Attention: An Efficient
Implementation and In-depth Study", ICLR 2025)."""

from __future__ import annotations

import math

import torch
import torch.nn.functional as F
from torch import Tensor

from pebench.encodings.base import AttentionMask, ModelDims, PositionalEncoding


class StickBreaking(PositionalEncoding):
    """A_ij = β_ij·Π_{j<k<i}(1 − β_ik), β_ij = σ(q_i·k_j/√d), output Σ_j A_ij·v_j with no softmax
    (Tan et al. 2025).

    Each query breaks a stick of length 1 from the nearest key outwards, so the order of keys
    is the only positional signal. Computed in log space: log A_ij = log σ(s_ij) +
    Σ_{j<k<i} log σ(−s_ik), the sum as a difference of one cumulative sum per row, O(T²)
    memory. ``attend_current`` lets the query's own key take the first piece (the reference
    code's option; off by default as there). ``remainder`` adds what is left of the stick,
    (1 − Σ_j A_ij)·v_i, to the current token's value, as the authors' tests do (off by
    default: the paper's equation has no such term). In a bidirectional encoder (pebench's
    extension) keys after the query break a second stick from the query rightwards, and with
    ``remainder`` its leftover goes to v_i too.
    """

    name = "stick_breaking"
    #: no key/value cache: attend breaks each stick over the whole sequence
    kv_cache = False
    relative = True

    def __init__(
        self, dims: ModelDims, attend_current: bool = False, remainder: bool = False
    ) -> None:
        super().__init__(dims)
        self.attend_current, self.remainder = attend_current, remainder

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
        scores = (q.float() @ k.float().transpose(-1, -2)) / math.sqrt(q.shape[-1])
        blocked = mask.dense(t, t, torch.float32, q.device) == float("-inf")
        eye = torch.eye(t, dtype=torch.bool, device=q.device)
        if not self.attend_current:
            blocked = blocked | eye
        scores = scores.masked_fill(blocked, float("-inf"))
        log_beta = F.logsigmoid(scores)  # −inf where blocked: that key takes no piece
        log_rest = F.logsigmoid(-scores)  # 0 where blocked: it leaves the stick whole
        prefix = log_rest.cumsum(-1)  # P_ij = Σ_{k ≤ j} log(1 − β_ik)
        at_query = prefix.diagonal(dim1=-2, dim2=-1).unsqueeze(-1)  # P_ii
        rest_at_query = log_rest.diagonal(dim1=-2, dim2=-1).unsqueeze(-1)
        left = at_query - prefix  # Σ_{j<k≤i}, for j < i
        right = prefix - log_rest - at_query + rest_at_query  # Σ_{i≤k<j}, for j > i
        before = torch.ones(t, t, dtype=torch.bool, device=q.device).tril(-1)
        log_weights = log_beta + torch.where(before, left, torch.where(eye, 0.0, right))
        weights = log_weights.exp()
        out = weights.to(v.dtype) @ v
        if not self.remainder:
            return out
        left_taken = (weights * (before | eye)).sum(-1, keepdim=True)  # the stick up to i
        leftover = 1 - left_taken
        if not self.dims.causal:  # the right-hand stick's leftover as well
            leftover = leftover + 1 - (weights * ~(before | eye)).sum(-1, keepdim=True)
        return out + leftover.to(v.dtype) * v
