"""KERPLE, power variant (Chi et al. 2022)."""

from __future__ import annotations

from torch import Tensor

from pebench.encodings.kerple import EPS, KerpleBias


class KerplePower(KerpleBias):
    """score(i, j) += −r1_h·|i − j|^{r2_h}, learned r1 > 0, 0 < r2 ≤ 2 (Chi et al. 2022)."""

    name = "kerple_power"
    max_r2 = 2.0

    def kernel(self, distance: Tensor, r1: Tensor, r2: Tensor) -> Tensor:
        # clamp keeps the gradient of x^r2 finite at x = 0, where the penalty is 0
        return r1 * distance.clamp(min=EPS).pow(r2) * (distance > 0)
