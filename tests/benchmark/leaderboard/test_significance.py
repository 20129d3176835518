"""Leaderboard statistics on fixtures with known answers."""

from __future__ import annotations

import math

import numpy as np
import pytest

from pebench.benchmark.leaderboard.significance import (
    kendall_tau,
    mean_rank_intervals,
    mean_ranks,
    t_interval,
    tied_with_best,
)


def test_t_interval_covers_the_true_mean_at_about_the_nominal_rate() -> None:
    rng = np.random.default_rng(0)
    trials, covered = 2000, 0
    for _ in range(trials):
        low, high = t_interval(rng.normal(0.7, 0.05, size=3))
        covered += low <= 0.7 <= high
    assert 0.93 <= covered / trials <= 0.97


def test_t_interval_of_one_value_or_no_spread_is_the_point() -> None:
    assert t_interval([0.5]) == (0.5, 0.5)
    assert t_interval([0.5, 0.5, 0.5]) == (0.5, 0.5)
    low, high = t_interval([1.0, 2.0, 3.0])
    assert low < 2.0 < high and high - 2.0 == pytest.approx(2.0 - low)


def seeds(*values: float) -> dict[int, float]:
    return dict(enumerate(values, start=1))


def test_a_clearly_separated_encoding_is_not_tied_with_the_best() -> None:
    scores = {"a": seeds(0.90, 0.91, 0.92), "b": seeds(0.50, 0.52, 0.51)}
    assert tied_with_best(scores, "maximize") == {"a"}
    assert tied_with_best(scores, "minimize") == {"b"}  # lower is better: b is best


def test_two_draws_of_one_distribution_are_tied() -> None:
    rng = np.random.default_rng(1)
    scores = {name: seeds(*rng.normal(0.8, 0.02, size=3)) for name in ("a", "b")}
    assert tied_with_best(scores, "maximize") == {"a", "b"}


def test_holm_correction_keeps_borderline_comparisons() -> None:
    """Two gaps with paired p = 0.044 and 0.038: each significant alone at 0.05, neither
    after Holm (the smaller p must clear 0.05 / 2)."""
    best = np.array([0.80, 0.82, 0.84])
    scores = {
        "best": seeds(*best),
        "e1": seeds(*(best - [0.010, 0.020, 0.012])),
        "e2": seeds(*(best - [0.012, 0.019, 0.010])),
    }
    assert tied_with_best(scores, "maximize") == {"best", "e1", "e2"}
    alone = {"best": scores["best"], "e2": scores["e2"]}
    assert tied_with_best(alone, "maximize") == {"best"}  # one comparison: p 0.038 < 0.05


def test_encodings_without_two_common_seeds_count_as_tied() -> None:
    scores = {"a": seeds(0.9, 0.9, 0.9), "b": {7: 0.1}}
    assert tied_with_best(scores, "maximize") == {"a", "b"}


def test_mean_ranks_average_over_tasks_with_ties_shared() -> None:
    means = {"copy": {"a": 0.9, "b": 0.5, "c": 0.5}, "lm": {"a": 2.0, "b": 1.0}}
    ranks = mean_ranks(means, {"copy": "maximize", "lm": "minimize"})
    assert ranks == {"a": (1 + 2) / 2, "b": (2.5 + 1) / 2, "c": 2.5}


def test_mean_rank_intervals_contain_the_point_and_separate_clear_winners() -> None:
    values = {
        "t1": {"a": [0.90, 0.91, 0.92], "b": [0.60, 0.62, 0.61], "c": [0.30, 0.33, 0.31]},
        "t2": {"a": [0.88, 0.90, 0.89], "b": [0.50, 0.55, 0.52], "c": [0.20, 0.25, 0.22]},
    }
    directions = {"t1": "maximize", "t2": "maximize"}
    intervals = mean_rank_intervals(values, directions)
    assert intervals["a"] == (1.0, 1.0) and intervals["c"] == (3.0, 3.0)
    close = {"t1": {"a": [0.80, 0.70, 0.90], "b": [0.85, 0.75, 0.78]}}
    wide = mean_rank_intervals(close, {"t1": "maximize"})
    assert wide["a"][0] == 1.0 and wide["a"][1] == 2.0  # either could win a resample
    assert mean_rank_intervals(close, {"t1": "maximize"}) == wide  # seeded: reproducible


def test_kendall_tau_of_equal_and_reversed_rankings() -> None:
    ranks = {"a": 1.0, "b": 2.0, "c": 3.0, "d": 4.0}
    assert kendall_tau(ranks, ranks)[0] == pytest.approx(1.0)
    reversed_ = {k: 5 - v for k, v in ranks.items()}
    tau, _, n = kendall_tau(ranks, reversed_)
    assert tau == pytest.approx(-1.0) and n == 4
    assert math.isnan(kendall_tau({"a": 1.0}, {"a": 1.0})[0])
