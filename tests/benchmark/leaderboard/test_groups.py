"""Group summaries of a leaderboard: per Chomsky level, and randomized versus plain rows."""

from __future__ import annotations

import statistics

from scipy import stats

from pebench.benchmark.leaderboard.groups import groups_markdown
from pebench.benchmark.leaderboard.table import Cell, Column, Entry
from pebench.benchmark.run.record import RunRecord

#: (task, level): two regular tasks and one context-sensitive
TASKS = [("parity_check", "regular"), ("even_pairs", "regular"), ("odds_first", "cs")]
COLUMNS = [Column(t, "OOD", "summary", "ood_token_accuracy", "maximize", True) for t, _ in TASKS]


def entry(name: str, scores: list[float]) -> Entry:
    e = Entry(name)
    for (task, level), column, score in zip(TASKS, COLUMNS, scores, strict=True):
        e.cells[column.header] = Cell([score - 0.01, score + 0.01], [1, 2])
        e.runs[task] = [RunRecord(task, name, 1, {}, {}, details={"level": level})]
    return e


def test_levels_average_their_tasks_and_randomized_rows_are_compared_per_task() -> None:
    entries = [
        entry("rope", [0.5, 0.7, 0.2]),
        entry("rope_rand", [0.6, 0.9, 0.5]),
        entry("alibi", [0.4, 0.4, 0.4]),
    ]
    text = groups_markdown("t", COLUMNS, entries)
    lines = text.splitlines()
    assert "| encoding | regular (2) | context-sensitive (1) | all levels |" in lines
    assert "| rope | 0.600 | 0.200 | 0.467 |" in lines
    diffs = [0.1, 0.2, 0.3]
    low, high = stats.t.interval(0.95, 2, loc=statistics.fmean(diffs), scale=stats.sem(diffs))
    row = next(line for line in lines if line.startswith("| rope | 3 |"))
    assert f"+0.200 [{low:+.3f}, {high:+.3f}]" in row and row.endswith("| 3 / 0 |")
    assert any(line.startswith("| all pairs | 3 |") for line in lines)
    assert not any(line.startswith("| alibi | 3 |") for line in lines)  # no alibi_rand row


def test_nothing_is_written_without_levels_or_randomized_rows() -> None:
    plain = [entry("rope", [0.5, 0.7, 0.2]), entry("alibi", [0.4, 0.4, 0.4])]
    for e in plain:
        for runs in e.runs.values():
            runs[0].details.clear()
    assert groups_markdown("t", COLUMNS, plain) is None
