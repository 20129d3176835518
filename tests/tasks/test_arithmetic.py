"""Arithmetic pinned to McLeish et al. 2024 (``create_data_split.py`` of mcleish7/arithmetic):
reversed operands and results, the bucket cycle over digit counts, operands of exactly the
asked digits, and exact match per cell of the evaluation grid."""

from __future__ import annotations

from collections import Counter

import pytest
import torch

from pebench import tasks
from pebench.errors import PebenchError
from pebench.tasks.arithmetic.grid import GridAccuracy
from pebench.tasks.arithmetic.operation import DIGIT0, EOS, OPERATOR
from pebench.tasks.base import seeded_generator
from pebench.tasks.synthetic.sequence import IGNORE, SEP
from tests.specs import tiny_run


def test_problems_are_written_least_significant_digit_first() -> None:
    task = tasks.get("addition")()
    source, answer = task.row(123, 45)
    digits = lambda s: [DIGIT0 + int(c) for c in s]  # noqa: E731
    assert source == digits("321") + [OPERATOR] + digits("54")
    assert answer == digits("861") + [EOS]
    assert tasks.get("multiplication")().row(12, 3)[1] == digits("63") + [EOS]
    batch = task.batch([(3, 2)], seeded_generator(0))
    inputs, targets = batch["inputs"][0].tolist(), batch["targets"][0].tolist()
    assert inputs[6] == SEP  # "=" after "a + b"
    assert targets[:6] == [IGNORE] * 6 and targets[6:] == inputs[7:] + [EOS]


def test_training_cycles_every_pair_of_digit_counts_evenly() -> None:
    task = tasks.get("addition")(train_digits=4, eval_digits=6)
    pairs = [p for step in range(8) for p in task.training_pairs(step, 6)]
    assert Counter(pairs) == {(i, j): 3 for i in range(1, 5) for j in range(1, 5)}


def test_operands_have_exactly_the_asked_digits() -> None:
    task = tasks.get("addition")()
    pairs = [(1, 1), (1, 7), (20, 3)] * 50
    for (a, b), (i, j) in zip(task.operands(pairs, seeded_generator(1)), pairs, strict=True):
        assert (len(str(a)), len(str(b))) == (i, j) and a >= 1 and b >= 1
    assert {a for a, _ in task.operands([(1, 1)] * 300, seeded_generator(2))} == set(range(1, 10))


def test_grid_accuracy_splits_cells_in_and_out_of_distribution() -> None:
    metric = GridAccuracy(size=3, train_max=2)
    metric.update(torch.tensor([True, False, True, True]), torch.tensor([1, 1, 3, 2]),
                  torch.tensor([1, 1, 1, 2]))  # fmt: skip
    out = metric.compute()
    assert out["id_exact_match"].item() == pytest.approx((0.5 + 1.0) / 2)
    assert out["ood_exact_match"].item() == 1.0
    assert metric.per_cell()["1,1"] == {"exact_match": 0.5, "count": 2}


def test_addition_trains_and_reports_per_cell(tmp_path) -> None:
    task = tasks.get("addition")(train_digits=3, eval_digits=4, eval_samples=2)
    run = tiny_run(tmp_path, task, "fire", abacus=5)
    assert set(run.summary) == {"id_exact_match", "ood_exact_match"}
    assert len(run.details["per_cell"]) == 16 and run.positions["abacus_max_k"] == 5


def test_abacus_needs_a_task_that_supplies_token_positions(tmp_path) -> None:
    from pebench import encodings
    from pebench.benchmark.run.module import PEModule
    from pebench.benchmark.run.settings import ModelConfig, OptimConfig

    with pytest.raises(PebenchError, match="supplies none"):
        PEModule(tasks.get("copy")(), encodings.get("rope"), ModelConfig(abacus=3), OptimConfig())
