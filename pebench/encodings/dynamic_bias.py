"""Dynamic position bias: an MLP from relative distance to per-head biases (as in Swin
Transformer V2, Liu et al. 2022, and x-transformers' DynamicPositionBias)."""

from __future__ import annotations

import torch
from torch import Tensor, nn

from pebench.encodings.base import ModelDims, PositionalEncoding
from pebench.encodings.relative import offset_range
from pebench.kernels import ranges
from pebench.kernels.bias import OffsetTable


class DynamicBias(PositionalEncoding):
    """score(i, j) += MLP(sign(i − j)·log(1 + |i − j|))_h, a learned function of the signed
    log-distance (Liu et al. 2022); it can tell left from right in a bidirectional encoder."""

    name = "dynamic_bias"
    relative = True

    def __init__(self, dims: ModelDims, hidden: int = 32, depth: int = 2) -> None:
        super().__init__(dims)
        layers: list[nn.Module] = [nn.Linear(1, hidden), nn.SiLU()]
        for _ in range(depth - 1):
            layers += [nn.Linear(hidden, hidden), nn.SiLU()]
        self.mlp = nn.Sequential(*layers, nn.Linear(hidden, dims.num_heads))

    def offset_bias(self, q_positions: Tensor, k_positions: Tensor) -> OffsetTable:
        d = offset_range(q_positions, k_positions)
        # The MLP runs once per offset (O(T) calls, not O(T²)), in the model's dtype.
        table = d.to(self.mlp[0].weight.dtype)
        feature = table.sign() * torch.log1p(table.abs())
        return OffsetTable(self.mlp(feature.unsqueeze(-1)).t(), ranges.low(d))
