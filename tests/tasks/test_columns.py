"""The leaderboard columns a task declares: stored in its run's record, equal to what the
shape of its results implied before tasks declared them (pinned on committed runs)."""

from __future__ import annotations

import json
from pathlib import Path

import pytest

from pebench import tasks
from pebench.benchmark.run.record import RunRecord
from pebench.tasks.columns import MetricColumn, inferred_columns

ROOT = Path(__file__).parents[2]
#: one committed final run per task family (decoder, encoder, held-out splits, LM, passkey,
#: test-split text tasks)
COMMITTED = [
    "results/recent-encodings/final/copy/alibi/seed-1",
    "results/reference-quarter/final/reverse_encoder/alibi/seed-1",
    "results/kazemnejad2023-xsmall-t5/final/cmc/none/seed-1",
    "results/kazemnejad2023-xsmall-t5/final/rsc2x/t5/seed-1",
    "results/lm-extrapolation-core/final/shakespeare/alibi/seed-1",
    "results/passkey-core/final/passkey/alibi/seed-1",
    "results/reference/final/sst2/alibi/seed-1",
    "results/reference/final/wikiann-en/alibi/seed-1",
]


def task_of(run: RunRecord) -> tasks.Task:
    """The run's task: built with defaults (its training context for a language model);
    the text tasks need data to build, and declare their columns by the base class's rule,
    which needs none."""
    cls = tasks.get(run.task)
    if run.task == "lm":
        return cls(context=run.details["train_max_length"])
    if run.task in ("ner", "classification"):
        return object.__new__(cls)
    return cls()


@pytest.mark.parametrize("relative", COMMITTED)
def test_declared_columns_equal_what_committed_results_implied(relative: str) -> None:
    run = RunRecord.read(ROOT / relative)
    task = task_of(run)
    metrics = {run.monitor, *(m.replace("id_", "ood_") for m in [run.monitor] if m)}
    for metric in sorted(m for m in metrics if m):
        results = run.results()
        assert task.columns(metric, results) == inferred_columns(metric, results), metric


@pytest.mark.parametrize("relative", COMMITTED)
def test_a_committed_record_reads_and_writes_back_its_content(relative: str) -> None:
    original = json.loads((ROOT / relative / "metrics.json").read_text())
    run = RunRecord.read(ROOT / relative)
    written = run.as_json()
    assert {key: written[key] for key in original} == original
    assert RunRecord.from_json(written) == run


def test_the_leaderboard_reads_a_declaration_instead_of_guessing() -> None:
    from types import SimpleNamespace

    from pebench.benchmark.leaderboard.table import task_columns

    declared = [MetricColumn("exact", "summary", "id_exact_match", ranked=True)]
    run = RunRecord(
        "copy", "rope", 1, {"id_exact_match": 1.0}, {}, selected_on="id_exact_match",
        columns=declared,
    )  # fmt: skip
    copy = SimpleNamespace(name="copy")
    plan = SimpleNamespace(metric="id_exact_match", direction="maximize", task=copy)
    assert [(c.label, c.key, c.primary) for c in task_columns(plan, [run])] == [
        ("exact", "id_exact_match", True)
    ]
    other = SimpleNamespace(metric="id_token_accuracy", direction="maximize", task=plan.task)
    assert [c.label for c in task_columns(other, [run])] == ["ID", "OOD"]


def test_a_record_file_that_is_not_an_object_is_unreadable(tmp_path: Path) -> None:
    (tmp_path / "metrics.json").write_text("[1, 2]")
    with pytest.raises(ValueError, match="does not hold a JSON object"):
        RunRecord.read(tmp_path)
