"""The leaderboard table: rows are encodings, columns each task's declared metrics as the
mean over the final seeds with its interval, the mean rank across tasks, parameter count and
training tokens/s. Cells tied with a column's best are marked (:mod:`.significance`)."""

from __future__ import annotations

import re
import statistics
from collections import Counter
from dataclasses import dataclass, field
from typing import Any

import optuna

from pebench.benchmark.leaderboard.collect import Source, final_runs
from pebench.benchmark.leaderboard.significance import (
    ALPHA,
    mean_rank_intervals,
    mean_ranks,
    t_interval,
    versus_best,
)
from pebench.benchmark.run.record import RunRecord
from pebench.benchmark.sweep.studies import StudyPlan
from pebench.tasks.columns import MetricColumn, inferred_columns

#: relative parameter difference from the ``none`` baseline that is flagged (Long Range
#: Arena's rule for apples-to-apples comparisons)
PARAM_TOLERANCE = 0.10
BASELINE = "none"


@dataclass
class Column:
    """One metric column of one task."""

    task: str
    label: str
    where: str  # "summary" (validation) or "test"
    key: str
    direction: str
    primary: bool = False

    @property
    def header(self) -> str:
        return f"{self.task} {self.label}"

    @property
    def stacked_header(self) -> str:
        """The header over several lines for narrow tables: the task name broken after each
        ``_`` (``duplicate_`` / ``encoder``), then the metric."""
        pieces = re.findall(r"[^_]+_?", self.task) or [self.task]
        return "\n".join([*pieces, *self.label.split()])

    @classmethod
    def declared(cls, task: str, column: MetricColumn, direction: str) -> Column:
        """The column a task declared (:class:`~pebench.tasks.columns.MetricColumn`)."""
        return cls(task, column.label, column.where, column.key, direction, column.ranked)

    def describe(self) -> dict[str, Any]:
        """The column as recorded in leaderboard.json (read back by :func:`task_rankings`)."""
        return {
            "header": self.header,
            "task": self.task,
            "direction": self.direction,
            "primary": self.primary,
        }


@dataclass
class Cell:
    """One (encoding, column) result: a score per final seed."""

    values: list[float] = field(default_factory=list)
    seeds: list[int] = field(default_factory=list)
    #: not significantly different from the column's best (paired, Holm-corrected)
    tied_with_best: bool = False
    #: seeds the sweep asked for; fewer results are shown as (n/expected)
    expected: int | None = None
    #: Holm-corrected p-value of the paired test against the column's best cell (ranked
    #: columns; None for the best itself and elsewhere)
    p_vs_best: float | None = None
    #: runs finished but none could be scored on this metric (e.g. learned positions asked
    #: for a context longer than their table): shown as ``n/a``, not as "not run yet"
    unscorable: bool = False

    @property
    def mean(self) -> float | None:
        return statistics.fmean(self.values) if self.values else None

    @property
    def std(self) -> float:
        return statistics.stdev(self.values) if len(self.values) > 1 else 0.0

    @property
    def interval(self) -> tuple[float, float] | None:
        """95% Student-t interval of the mean over seeds."""
        return t_interval(self.values) if self.values else None

    def text(self, compact: bool = False) -> str:
        """``mean ± half-width of the 95% interval``, ``*`` when tied with the best; a single
        seed shows ``n=1`` with neither interval nor mark (no test is possible)."""
        if self.mean is None:
            return "n/a" if self.unscorable else "–"
        short = self.expected is not None and len(self.values) < self.expected
        count = f" ({len(self.values)}/{self.expected})" if short else ""
        if len(self.values) < 2:
            return f"{self.mean:.{2 if compact else 3}f}{count or ' (n=1)'}"
        low, high = self.interval
        half = (high - low) / 2
        mark = "*" if self.tied_with_best else ""
        if compact:
            return f"{self.mean:.2f}±{half:.2f}{count}{mark}"
        return f"{self.mean:.3f} ± {half:.3f}{count}{' ' + mark if mark else ''}"


@dataclass
class Entry:
    """Everything known about one encoding across the sweep's tasks."""

    encoding: str
    cells: dict[str, Cell] = field(default_factory=dict)
    parameters: dict[str, int] = field(default_factory=dict)
    tokens_per_s: list[float] = field(default_factory=list)
    mean_rank: float | None = None
    #: bootstrap 95% interval of the mean rank
    rank_interval: tuple[float, float] | None = None
    param_flag: str = ""
    runs: dict[str, list[RunRecord]] = field(default_factory=dict)
    #: where tokens/s was measured: the devices of the final runs, or a bench file's device
    throughput_devices: set[str] = field(default_factory=set)
    search: dict[str, dict[str, Any]] = field(default_factory=dict)
    #: non-default variants the runs recorded (``encoding_variant`` in metrics.json)
    variants: set[str] = field(default_factory=set)
    #: the row being ranked against a reference (``pebench rank``): labelled and highlighted
    marked: bool = False

    @property
    def label(self) -> str:
        """The encoding's name with the variants its runs used, e.g. ``alibi (directional)``,
        and ``(new)`` on a row ranked against a reference."""
        name = self.encoding
        if self.variants:
            name += f" ({', '.join(sorted(self.variants))})"
        return f"{name} (new)" if self.marked else name


def task_columns(plan: StudyPlan, runs: list[RunRecord]) -> list[Column]:
    """A task's columns as its runs' records declare them for the plan's metric (a run with
    a test split speaks for the others); before any run finished, the columns its metric
    implies."""
    speaking = next((r for r in runs if r.test is not None), runs[0] if runs else None)
    declared = (
        speaking.columns_for(plan.metric) if speaking else inferred_columns(plan.metric, {})
    )
    return [Column.declared(plan.task.name, c, plan.direction) for c in declared]


def sweep_columns(
    studies: list[tuple[StudyPlan, list[RunRecord]]],
) -> dict[str, list[Column]]:
    """Each task's columns (tasks in sweep order) from the final runs of its studies; only a
    task that no study has finished yet gets the placeholder column its metric implies, so a
    partly run task does not show its real columns and the placeholder side by side."""
    by_task: dict[str, list[Column]] = {plan.task.name: [] for plan, _ in studies}
    for plan, runs in studies:
        known = by_task[plan.task.name]
        if runs:
            headers = {c.header for c in known}
            known += [c for c in task_columns(plan, runs) if c.header not in headers]
    for plan, runs in studies:
        if not by_task[plan.task.name]:
            by_task[plan.task.name] = task_columns(plan, runs)
    return by_task


def _value(run: RunRecord, column: Column) -> float | None:
    return run.value(column.where, column.key)


def build(
    sources: list[Source], problems: list[str] | None = None, marked: str | None = None
) -> tuple[list[Column], list[Entry]]:
    """Collect the leaderboard's columns and one entry per encoding, sorted by mean rank;
    finished runs without readable results are reported in ``problems``; the encoding
    labelled ``marked`` is flagged as the row being ranked."""
    entries: dict[str, Entry] = {}
    studies = [(plan, final_runs(plan, storage, root, problems)) for plan, storage, root in sources]
    storages = {plan.name: storage for plan, storage, _ in sources}
    by_task = sweep_columns(studies)
    columns = [column for task in by_task.values() for column in task]
    for plan, runs in studies:
        label = plan.encoding_label
        entry = entries.setdefault(label, Entry(label, marked=label == marked))
        entry.runs[plan.task.name] = runs
        search = optuna.load_study(study_name=plan.name, storage=storages[plan.name])
        states = Counter(t.state.name.lower() for t in search.get_trials(deepcopy=False))
        entry.search[plan.task.name] = dict(states)
        for column in by_task[plan.task.name]:
            scored = [(r.seed, _value(r, column)) for r in runs]
            scored = [(seed, v) for seed, v in scored if v is not None]
            entry.cells[column.header] = Cell(
                [v for _, v in scored],
                [s for s, _ in scored],
                expected=len(plan.sweep.seeds),
                unscorable=bool(runs) and not scored,
            )
        if runs:
            entry.parameters[plan.task.name] = int(runs[0].parameters)
            entry.tokens_per_s += [float(r.tokens_per_s) for r in runs]
            devices = (r.where_trained for r in runs)
            entry.throughput_devices.update(str(d) for d in devices if d)
            entry.variants.update(r.encoding_variant for r in runs if r.encoding_variant)
    _rank(columns, list(entries.values()))
    _flag_parameters(list(entries.values()))
    ordered = sorted(
        entries.values(), key=lambda e: (e.mean_rank is None, e.mean_rank or 0.0, e.encoding)
    )
    return columns, ordered


def _rank(columns: list[Column], entries: list[Entry]) -> None:
    """Per primary column, mark the cells not significantly different from the best; each
    encoding's mean rank over tasks (1 = best) with its bootstrap interval."""
    primary = [c for c in columns if c.primary]
    values: dict[str, dict[str, list[float]]] = {}
    for column in primary:
        cells = {e.encoding: e.cells[column.header] for e in entries if column.header in e.cells}
        cells = {name: cell for name, cell in cells.items() if cell.values}
        by_seed = {name: dict(zip(c.seeds, c.values, strict=True)) for name, c in cells.items()}
        for name, p in versus_best(by_seed, column.direction).items():
            cells[name].p_vs_best = p
            cells[name].tied_with_best = p is None or p > ALPHA  # Holm rejects at p <= alpha
        if cells:
            values[column.header] = {name: cell.values for name, cell in cells.items()}
    directions = {c.header: c.direction for c in primary}
    means = {h: {n: statistics.fmean(v) for n, v in by.items()} for h, by in values.items()}
    ranks = mean_ranks(means, directions)
    intervals = mean_rank_intervals(values, directions)
    for entry in entries:
        entry.mean_rank = ranks.get(entry.encoding)
        entry.rank_interval = intervals.get(entry.encoding)


def _flag_parameters(entries: list[Entry]) -> None:
    baseline = next((e for e in entries if e.encoding == BASELINE), None)
    if baseline is None:
        return
    for entry in entries:
        diffs = [
            (entry.parameters[t] - base) / base
            for t, base in baseline.parameters.items()
            if t in entry.parameters and base
        ]
        worst = max(diffs, key=abs, default=0.0)
        if abs(worst) > PARAM_TOLERANCE:
            entry.param_flag = f"{worst:+.0%} vs {BASELINE}"


HEADERS_AFTER = ("mean rank", "params", "param flag", "tokens/s")


def _rank_text(entry: Entry, terse: bool = False) -> str:
    """``mean [low, high]``; ``terse`` (narrow terminals) rounds the mean to one decimal and
    drops the space inside the interval."""
    if entry.mean_rank is None:
        return "–"
    low, high = entry.rank_interval or (entry.mean_rank, entry.mean_rank)
    if terse:
        return f"{entry.mean_rank:.1f} [{low:.1f},{high:.1f}]"
    return f"{entry.mean_rank:.2f} [{low:.1f}, {high:.1f}]"


def rows(
    columns: list[Column], entries: list[Entry], compact: bool = False
) -> tuple[list[str], list[list[str]]]:
    """Header and text cells of the leaderboard table."""
    header = ["encoding", *(c.header for c in columns), *HEADERS_AFTER]
    body = []
    for e in entries:
        params = next(iter(e.parameters.values()), None)
        body.append(
            [
                e.label,
                *(e.cells.get(c.header, Cell()).text(compact) for c in columns),
                _rank_text(e),
                "–" if params is None else f"{params:,}",
                e.param_flag,
                f"{statistics.fmean(e.tokens_per_s):,.0f}" if e.tokens_per_s else "–",
            ]
        )
    return header, body


def compact_rows(
    columns: list[Column], entries: list[Entry], terse: bool = False, every: bool = False
) -> tuple[list[Column], list[tuple[str, list[str], str]]]:
    """The headline view: each task's ranked column only (``every``: all its columns, e.g.
    ID beside OOD) as ``mean±half-width`` (``*`` when tied with the best) and the mean rank
    (``terse`` as in :func:`_rank_text`), one (label, cells, rank) row per encoding."""
    primary = columns if every else [c for c in columns if c.primary] or columns
    body = [
        (e.label, [e.cells.get(c.header, Cell()).text(compact=True) for c in primary],
         _rank_text(e, terse))
        for e in entries
    ]  # fmt: skip
    return primary, body




















