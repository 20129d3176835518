"""Abacus embeddings pinned to McLeish et al. 2024 (``abacus.py`` of mcleish7/arithmetic): a
digit's position is its 1-based index in its run of digits, 0 elsewhere; training shifts every
digit's position by one random k per batch, evaluation does not."""

from __future__ import annotations

import torch

from pebench import tasks
from pebench.encodings.abacus import AbacusEmbedding, digit_run_positions


def test_positions_count_digits_within_each_number() -> None:
    task = tasks.get("addition")()
    source, answer = task.row(123, 45)  # "3 2 1 + 5 4 = 8 6 1 <eos>"
    tokens = torch.tensor([source + [1] + answer])
    assert task.token_positions(tokens).tolist() == [[1, 2, 3, 0, 1, 2, 0, 1, 2, 3, 0]]
    runs = torch.tensor([[1, 1, 0, 0, 1], [0, 1, 1, 1, 1]], dtype=torch.bool)
    assert digit_run_positions(runs).tolist() == [[1, 2, 0, 0, 1], [0, 1, 2, 3, 4]]


def test_training_adds_one_offset_per_batch_and_evaluation_none() -> None:
    abacus = AbacusEmbedding(d_model=4, max_k=50)
    positions = torch.tensor([[1, 2, 0, 1], [0, 1, 2, 3]])
    torch.manual_seed(0)
    shifted = [abacus.offset(positions) for _ in range(20)]
    ks = {int(s[0, 0]) - 1 for s in shifted}
    assert len(ks) > 1 and all(0 <= k <= 50 for k in ks)
    for s in shifted:
        k = int(s[0, 0]) - 1
        assert torch.equal(s, torch.where(positions > 0, positions + k, positions))
    abacus.eval()
    assert torch.equal(abacus.offset(positions), positions)
    assert torch.equal(abacus(positions), abacus.table(positions))
