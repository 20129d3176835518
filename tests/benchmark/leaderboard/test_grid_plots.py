"""Heatmaps of a task's grid: passkey's (length × depth) and arithmetic's exact match per
pair of operand digit counts."""

from __future__ import annotations

from pathlib import Path
from types import SimpleNamespace

import matplotlib.image
import numpy as np

from pebench.benchmark.leaderboard.plots import plot_grids, run_grid


def arithmetic_run(value: float) -> SimpleNamespace:
    cells = {f"{i},{j}": {"exact_match": value * (i == 1), "count": 4}
             for i in (1, 2, 3) for j in (1, 2, 3) if (i, j) != (3, 3)}  # fmt: skip
    return SimpleNamespace(details={"per_cell": cells})


def test_per_cell_exact_match_is_a_grid_by_first_and_second_digit_counts() -> None:
    kind, xs, ys, values = run_grid(arithmetic_run(0.5))
    assert kind == "per_cell" and xs == ys == ["1", "2", "3"]
    assert values[0].tolist() == [0.5, 0.5, 0.5]  # first operand of 1 digit, any second
    assert values[1:, :2].tolist() == [[0.0, 0.0], [0.0, 0.0]]
    assert np.isnan(values[2, 2])  # never evaluated
    assert run_grid(SimpleNamespace(details={})) is None


def test_plot_grids_draws_one_heatmap_per_encoding(tmp_path: Path) -> None:
    plans = [SimpleNamespace(task=SimpleNamespace(name="addition"))]
    entries = [
        SimpleNamespace(
            label="rope", runs={"addition": [arithmetic_run(1.0), arithmetic_run(0.0)]}
        ),
        SimpleNamespace(label="fire", runs={"addition": [arithmetic_run(1.0)]}),
        SimpleNamespace(label="alibi", runs={}),
    ]
    (path,) = plot_grids(plans, entries, tmp_path)
    assert path.name == "plot_grid_addition.png"
    assert matplotlib.image.imread(path).shape[2] in (3, 4)
