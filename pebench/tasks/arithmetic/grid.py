"""Exact match per cell (i, j) of operand digit counts: the arithmetic tasks' metric."""

from __future__ import annotations

import torch
from torch import Tensor

from pebench.tasks.metrics import SummedMetric


class GridAccuracy(SummedMetric):
    """Exact match for each pair of operand digit counts (i, j), 1 ≤ i, j ≤ ``size``.

    States are counts summed across processes. In distribution (ID) are the cells with both
    counts at most ``train_max``, out of distribution (OOD) the rest; each aggregate is the
    mean over its evaluated cells (every cell weighs the same).
    """

    full_state_update = False

    def __init__(self, size: int, train_max: int) -> None:
        super().__init__()
        self.size, self.train_max = size, train_max
        for state in ("correct", "total"):
            self.add_state(state, torch.zeros(size + 1, size + 1, dtype=torch.long), "sum")

    def update(self, exact: Tensor, first: Tensor, second: Tensor) -> None:
        """``exact`` (batch,) whether each answer was exactly right; ``first``/``second``
        (batch,) the operands' digit counts."""
        cells = first * (self.size + 1) + second
        self.correct.view(-1).index_add_(0, cells, exact.long())
        self.total.view(-1).index_add_(0, cells, torch.ones_like(cells))

    def per_cell(self) -> dict[str, dict[str, float | int]]:
        """{"i,j": {"exact_match", "count"}} for every evaluated cell."""
        return {
            f"{i},{j}": {
                "exact_match": (self.correct[i, j] / self.total[i, j]).item(),
                "count": int(self.total[i, j]),
            }
            for i, j in torch.nonzero(self.total).tolist()
        }

    def compute(self) -> dict[str, Tensor]:
        """Mean exact match over the ID cells and over the OOD cells."""
        evaluated = self.total > 0
        counts = torch.arange(self.size + 1, device=self.total.device)
        inside = (counts[:, None] <= self.train_max) & (counts[None, :] <= self.train_max)
        exact = self.correct / self.total.clamp(min=1)
        out = {}
        for split, cells in (("id", evaluated & inside), ("ood", evaluated & ~inside)):
            if cells.any():
                out[f"{split}_exact_match"] = exact[cells].mean()
        return out
