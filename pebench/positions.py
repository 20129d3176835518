"""Position ids fed to the model: plain 0..n−1, or randomized (Ruoss et al. 2023,
"Randomized Positional Encodings Boost Length Generalization of Transformers")."""

from __future__ import annotations

import torch
from torch import Tensor

from pebench.errors import PebenchError
from pebench.kernels import ranges


def plain_positions(tokens: Tensor) -> Tensor:
    """0..n−1 as one row of shape (1, n), shared by every row of ``tokens`` (batch, n).

    Right padding keeps it correct. One row instead of ``batch`` identical ones lets
    encodings build relative tables and score biases once for the whole batch.
    """
    return ranges.row(0, tokens.shape[1], tokens.device)


def randomized_positions(
    tokens: Tensor, max_length: int, generator: torch.Generator | None = None
) -> Tensor:
    """Per row, a uniformly random sorted subset of n distinct positions from [0, max_length).

    The model sees position values up to ``max_length`` during training while sequences stay
    short, so longer test sequences use values it has seen (Ruoss et al. 2023).
    """
    batch, n = tokens.shape
    if n > max_length:
        raise PebenchError(
            f"a sequence of {n} tokens does not fit randomized positions in [0, {max_length}); "
            f"raise model.randomized_positions above the longest sequence"
        )
    scores = torch.rand(batch, max_length, device=tokens.device, generator=generator)
    return scores.topk(n, dim=-1).indices.sort(dim=-1).values
