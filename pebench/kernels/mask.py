"""What a kernel reads of an attention mask: the model's
:class:`~pebench.encodings.base.AttentionMask` is one (kernels sit below encodings, so they
name the shape, not the class)."""

from __future__ import annotations

from typing import Protocol

import torch
from torch import Tensor


class MaskLike(Protocol):
    """An additive mask and/or a causal flag; ``fused`` when the model chose a fused kernel
    (flash-linear-attention's, which takes nothing but the causal order)."""

    additive: Tensor | None
    is_causal: bool
    fused: bool

    def dense(self, q_len: int, k_len: int, dtype: torch.dtype, device: torch.device) -> Tensor:
        """The mask as one additive tensor."""
        ...
