"""Randomized positions (Ruoss et al. 2023) for any position-indexed encoding."""

from __future__ import annotations

from pathlib import Path

import pytest
import torch

from pebench import encodings, tasks
from pebench.backbone import Transformer
from pebench.benchmark.run.spec import ModelConfig, RunSpec, TrainConfig
from pebench.benchmark.run.train import train
from pebench.encodings.base import ModelDims
from pebench.errors import PebenchError
from pebench.positions import randomized_positions

DIMS = ModelDims(d_model=16, num_heads=2, num_layers=1, causal=False)


def sample(seed: int, batch: int = 4, n: int = 12, max_length: int = 64) -> torch.Tensor:
    gen = torch.Generator().manual_seed(seed)
    return randomized_positions(torch.zeros(batch, n, dtype=torch.long), max_length, gen)


def test_randomized_positions_are_sorted_distinct_and_in_range() -> None:
    pos = sample(0)
    assert pos.shape == (4, 12)
    assert (pos[:, 1:] > pos[:, :-1]).all()
    assert pos.min() >= 0 and pos.max() < 64


def test_randomized_positions_vary_with_seed() -> None:
    assert torch.equal(sample(1), sample(1))
    assert not torch.equal(sample(1), sample(2))
    assert sample(1).max() > 11  # not just 0..n-1


def test_randomized_positions_refuse_sequences_longer_than_the_range() -> None:
    with pytest.raises(PebenchError, match="randomized_positions"):
        sample(0, n=65)


def test_model_randomizes_in_training_and_not_in_eval_by_default() -> None:
    torch.manual_seed(0)
    model = Transformer(11, DIMS, encodings.get("sinusoidal")(DIMS), randomized_positions=128)
    x = torch.randint(0, 11, (2, 8))
    model.train()
    assert not torch.allclose(model(x), model(x))
    model.eval()
    assert torch.allclose(model(x), model(x, positions=torch.arange(8).expand(2, 8)))
    model.randomize_eval = True
    assert not torch.allclose(model(x), model(x))


def test_learned_table_too_small_for_randomized_range_is_a_clear_error() -> None:
    enc = encodings.get("learned")(DIMS, max_positions=32)
    with pytest.raises(PebenchError, match="max_positions"):
        Transformer(11, DIMS, enc, randomized_positions=64)


def test_run_records_position_mode(tmp_path: Path) -> None:
    metrics = train(
        RunSpec(
            task=tasks.get("reverse")(
                formulation="encoder", train_lengths=(1, 3), eval_lengths=(1, 5)
            ),
            encoding=encodings.get("rope"),
            model=ModelConfig(d_model=16, num_layers=1, num_heads=2, randomized_positions=32),
            train=TrainConfig(max_steps=2, batch_size=4, progress=False, accelerator="cpu"),
            output_dir=tmp_path,
        )
    )
    assert metrics.positions == {"train": "randomized", "eval": "plain", "randomized_max": 32}
