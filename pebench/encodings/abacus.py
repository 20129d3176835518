"""Abacus embeddings (McLeish et al. 2024, "Transformers Can Do Arithmetic with the Right
Embeddings", NeurIPS; reference: ``abacus.py`` in mcleish7/arithmetic).

A digit's position is its 1-based index within its run of consecutive digits (numbers are
written least significant digit first, so position p is the p-th significant digit of every
number); every other token has position 0. The positions come from the task
(:meth:`pebench.tasks.base.Task.token_positions`). A learned table embeds them and the
embedding is added to the token embeddings:

    x_t ← x_t + E[p_t + k·[p_t > 0]],   k ~ U{0, …, max_k} once per training batch, k = 0 at eval

The random offset k trains table rows beyond the training lengths, so longer numbers at
evaluation land on trained rows. It is not a :class:`PositionalEncoding`: it reads the
task's token positions rather than sequence positions, and the model adds it beside any
encoding (``--model.abacus MAX_K``; Abacus alone is ``--encoding none``).
"""

from __future__ import annotations

import torch
from torch import Tensor, nn

#: table rows past max_k: the longest digit run the model can place (their max_seq_length)
SPAN = 1024


def digit_run_positions(is_digit: Tensor) -> Tensor:
    """(batch, length) 1-based index of each digit within its run of digits; 0 elsewhere."""
    index = torch.arange(is_digit.shape[-1], device=is_digit.device).expand_as(is_digit)
    previous = torch.zeros_like(is_digit)
    previous[..., 1:] = is_digit[..., :-1]
    starts = torch.where(is_digit & ~previous, index, torch.zeros_like(index))
    run_start = starts.cummax(dim=-1).values
    return torch.where(is_digit, index - run_start + 1, torch.zeros_like(index))


class AbacusEmbedding(nn.Module):
    """The learned table of Abacus positions with the training offset."""

    def __init__(self, d_model: int, max_k: int) -> None:
        super().__init__()
        self.max_k = max_k
        self.table = nn.Embedding(max_k + SPAN, d_model)

    def offset(self, positions: Tensor) -> Tensor:
        """``positions`` shifted by one random k for the whole batch in training."""
        if not self.training or self.max_k == 0:
            return positions
        k = int(torch.randint(0, self.max_k + 1, ()))
        return torch.where(positions > 0, positions + k, positions)

    def forward(self, positions: Tensor) -> Tensor:
        return self.table(self.offset(positions).clamp(max=self.table.num_embeddings - 1))
