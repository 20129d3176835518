"""KERPLE, logarithmic variant (Chi et al. 2022)."""

from __future__ import annotations

import torch
from torch import Tensor

from pebench.encodings.kerple import KerpleBias


class KerpleLog(KerpleBias):
    """score(i, j) += −r1_h·log(1 + r2_h·|i − j|), r1, r2 > 0 learned per head (Chi et al. 2022)."""

    name = "kerple_log"

    def kernel(self, distance: Tensor, r1: Tensor, r2: Tensor) -> Tensor:
        return r1 * torch.log1p(r2 * distance)
