"""Stick-breaking attention (Tan et al. 2025, "Scaling Stick-Breaking Attention: An Efficient
Implementation and In-depth Study", ICLR 2025)."""

from __future__ import annotations

from torch import Tensor

from pebench.encodings.base import AttentionMask, ModelDims, PositionalEncoding
from pebench.kernels.stick_breaking import stick_breaking_attention


class StickBreaking(PositionalEncoding):
    """A_ij = β_ij·Π_{j<k<i}(1 − β_ik), β_ij = σ(q_i·k_j/√d), output Σ_j A_ij·v_j with no softmax
    (Tan et al. 2025).

    Each query breaks a stick of length 1 from the nearest key outwards, so the order of keys
    is the only positional signal. Computed in log space: log A_ij = log σ(s_ij) +
    Σ_{j<k<i} log σ(−s_ik), the sum as a difference of one cumulative sum per row
    (:mod:`pebench.kernels.stick_breaking`: the reference, its query-chunked form on GPUs,
    flash-linear-attention's kernel). ``attend_current`` lets the query's own key take the
    first piece (the reference code's option; off by default as there). ``remainder`` adds
    what is left of the stick, (1 − Σ_j A_ij)·v_i, to the current token's value, as the
    authors' tests do (off by default: the paper's equation has no such term). In a
    bidirectional encoder (pebench's extension) keys after the query break a second stick
    from the query rightwards, and with ``remainder`` its leftover goes to v_i too.
    """

    name = "stick_breaking"
    #: no key/value cache: attend breaks each stick over the whole sequence
    kv_cache = False
    relative = True
    fused_kernel = "stick_breaking"
    kernel = "stick_breaking"

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
        return stick_breaking_attention(
            q, k, v, mask, self.dims.causal, self.attend_current, self.remainder
        )
