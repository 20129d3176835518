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


def test_tasks_no_encoding_fits_in_distribution_are_named() -> None:
    entries = [entry("rope", [0.5, 0.7, 0.2]), entry("rope_rand", [0.6, 0.9, 0.5])]
    for e, scores in zip(entries, [[0.95, 0.5, 0.3], [0.85, 0.89, 0.2]], strict=True):
        for (task, _), score in zip(TASKS, scores, strict=True):
            e.runs[task] = [
                RunRecord(task, e.encoding, seed, {"id_exact_match": score + d}, {}, monitor=m)
                for seed, d, m in [(1, -0.01, "id_exact_match"), (2, 0.01, None)]
            ]
    lines = groups_markdown("t", COLUMNS, entries).splitlines()
    assert "| parity_check | 0.950 (id_exact_match) | rope | yes |" in lines
    assert "| even_pairs | 0.890 (id_exact_match) | rope_rand | no |" in lines
    assert "| odds_first | 0.300 (id_exact_match) | rope | no |" in lines
    verdict = next(line for line in lines if "No encoding reaches" in line)
    assert "on 2 of 3 tasks: even_pairs, odds_first;" in verdict


def test_only_tasks_selected_in_distribution_are_judged() -> None:
    entries = [entry("rope", [0.5, 0.7, 0.2]), entry("rope_rand", [0.6, 0.9, 0.5])]
    for e in entries:
        for runs in e.runs.values():
            runs[0].monitor, runs[0].summary = "f1", {"f1": 0.5}
    assert "fit the training lengths" not in groups_markdown("t", COLUMNS, entries)
