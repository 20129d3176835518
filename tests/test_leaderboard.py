"""Leaderboard columns and labels, from fixtures (no sweep needed)."""

from __future__ import annotations

from types import SimpleNamespace

import pytest

from pebench.benchmark.leaderboard import Cell, Entry, rows, task_columns


def plan(metric: str) -> SimpleNamespace:
    return SimpleNamespace(metric=metric, direction="maximize", task=SimpleNamespace(name="copy"))


@pytest.mark.parametrize("metric", ["ood_exact_match", "id_exact_match"])
def test_length_tasks_show_id_and_rank_on_ood_whatever_selects(metric: str) -> None:
    columns = task_columns(plan(metric), [{"summary": {}}])
    assert [(c.label, c.key, c.primary) for c in columns] == [
        ("ID", "id_exact_match", False),
        ("OOD", "ood_exact_match", True),
    ]


def test_other_validation_metrics_are_one_primary_column() -> None:
    (column,) = task_columns(plan("accuracy"), [{"summary": {}}])
    assert column.key == "accuracy" and column.primary


def test_variants_recorded_by_runs_are_shown_next_to_the_name() -> None:
    columns = task_columns(plan("ood_exact_match"), [{"summary": {}}])
    plain = Entry("rope", cells={c.header: Cell([0.5]) for c in columns})
    variant = Entry("alibi", cells={c.header: Cell([0.4]) for c in columns})
    variant.variants.add("directional")
    _, body = rows(columns, [plain, variant])
    assert [row[0] for row in body] == ["rope", "alibi (directional)"]


def test_language_models_show_loss_at_one_four_and_sixteen_times_the_context() -> None:
    lm = SimpleNamespace(metric="loss", direction="minimize", task=SimpleNamespace(name="lm"))
    summary = {"loss": 1.5, **{f"loss_{n}": 1.5 for n in (64, 128, 256, 512, 1024)}}
    columns = task_columns(lm, [{"summary": summary, "train_max_length": 64}])
    assert [(c.label, c.key, c.primary) for c in columns] == [
        ("loss 1×", "loss_64", False),
        ("loss 4×", "loss_256", False),
        ("loss 16×", "loss_1024", True),
    ]
    assert all(c.direction == "minimize" for c in columns)
