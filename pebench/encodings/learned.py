"""Learned absolute position embeddings (Gehring et al. 2017; used by BERT and GPT-2)."""

from __future__ import annotations

from torch import Tensor, nn

from pebench.encodings.base import ModelDims, PositionalEncoding


class Learned(PositionalEncoding):
    """x_p ← x_p + E[p] with a trained table E ∈ R^{max_positions×d} (Gehring et al. 2017)."""

    name = "learned"

    def __init__(self, dims: ModelDims, max_positions: int = 256) -> None:
        super().__init__(dims)
        self.max_positions = max_positions
        self.table = nn.Embedding(max_positions, dims.d_model)

    def embed(self, x: Tensor, positions: Tensor) -> Tensor:
        self.check_positions(positions)
        return x + self.table(positions).to(x.dtype)
