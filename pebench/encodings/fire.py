"""FIRE: functional interpolation for relative positions (Li et al. 2023, "Functional
Interpolation for Relative Positions Improves Long Context Transformers")."""

from __future__ import annotations

import torch
from torch import Tensor, nn

from pebench.encodings.base import ModelDims, PositionalEncoding
from pebench.encodings.relative import offset_range, offsets
from pebench.kernels import ranges
from pebench.kernels.bias import OffsetTable


class FIRE(PositionalEncoding):
    """score(i, j) += f_θ(ψ(i − j) / ψ(max(L, i))), ψ(x) = log(c·x + 1), f_θ an MLP to one bias
    per head, c and L learned (Li et al. 2023).

    The normalizer ψ(max(L, i)) makes scores depend on the query position once i > L (the
    paper's progressive interpolation); below L, i.e. for the default L = 512, only distances
    matter. Distances are |i − j|, so a bidirectional encoder sees a symmetric bias.
    """

    name = "fire"
    relative = True

    def __init__(
        self, dims: ModelDims, mlp_width: int = 32, init_c: float = 0.1, init_L: float = 512.0
    ) -> None:
        super().__init__(dims)
        self.mlp = nn.Sequential(
            nn.Linear(1, mlp_width), nn.ReLU(), nn.Linear(mlp_width, dims.num_heads)
        )
        self.c = nn.Parameter(torch.tensor(init_c))
        self.L = nn.Parameter(torch.tensor(init_L))

    def offset_bias(self, q_positions: Tensor, k_positions: Tensor) -> OffsetTable | None:
        c, limit = self.c.abs(), self.L.abs()
        if not bool(q_positions.max() < limit):
            return None  # the normalizer depends on the query: see attention_bias
        # Every normalizer is ψ(L): the MLP runs once per offset, then is indexed.
        d = offset_range(q_positions, k_positions)
        distance = d.abs().to(c.dtype)
        normalized = torch.log(c * distance + 1) / torch.log(c * limit + 1).clamp(min=1e-6)
        return OffsetTable(self.mlp(normalized.unsqueeze(-1)).t(), ranges.low(d))

    def attention_bias(self, q_positions: Tensor, k_positions: Tensor) -> Tensor:
        table = self.offset_bias(q_positions, k_positions)
        if table is not None:
            return table.dense(q_positions, k_positions)
        c, limit = self.c.abs(), self.L.abs()
        distance = offsets(q_positions, k_positions).abs().to(c.dtype)
        query = q_positions.to(c.dtype).unsqueeze(-1)
        normalizer = torch.log(c * torch.maximum(limit, query) + 1)
        normalized = torch.log(c * distance + 1) / normalizer.clamp(min=1e-6)
        return self.mlp(normalized.unsqueeze(-1)).permute(0, 3, 1, 2)
