"""The leaderboard of a sweep, read from its Optuna storage and run outputs (never from
W&B, which may be offline): rows are encodings, columns each task's metrics as mean ± std
over the final seeds, the mean rank across tasks, parameter count and training tokens/s.

Written as ``leaderboard.md``, ``.csv``, ``.html`` and ``.json``, with
``leaderboard_compact.md`` (one ranked column per task, the README's headline),
``leaderboard_ood_selected.md`` for length tasks (a labelled oracle view) and PNG plots;
printed in the terminal and logged to a W&B ``leaderboard`` run.
"""

from __future__ import annotations

import csv
import html
import json
import os
import re
import statistics
from collections import Counter
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

import optuna
from rich.console import Console
from rich.table import Table

from pebench.benchmark.sweep.ood_selected import ood_selected_markdown
from pebench.benchmark.sweep.significance import (
    kendall_tau,
    mean_rank_intervals,
    mean_ranks,
    t_interval,
    tied_with_best,
)
from pebench.benchmark.sweep.studies import StudyPlan, plans
from pebench.benchmark.sweep.tracking import Tracker
from pebench.errors import PebenchError

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
    runs: dict[str, list[dict[str, Any]]] = field(default_factory=dict)
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


#: one study of a leaderboard and where it lives: (plan, Optuna storage, output root); a
#: ranked leaderboard mixes a reference's studies with those of the ranked encoding
Source = tuple[StudyPlan, Any, Path]


def sources_of(handle: Any) -> list[Source]:
    """The studies of an opened sweep, all in its own storage and directory."""
    return [(plan, handle.storage.optuna, Path(handle.output_dir)) for plan in plans(handle.sweep)]


def final_runs(
    plan: StudyPlan, storage: Any, root: Path, problems: list[str] | None = None
) -> list[dict[str, Any]]:
    """metrics.json of each finished final run of ``plan``; a finished run whose file is
    missing or unreadable is left out and described in ``problems``."""
    study = optuna.load_study(study_name=plan.final_name, storage=storage)
    runs, seen = [], set()
    trials = study.get_trials(deepcopy=False, states=(optuna.trial.TrialState.COMPLETE,))
    for trial in reversed(trials):  # a seed re-run after its results were lost: the newest
        if trial.user_attrs["output_dir"] in seen:
            continue
        seen.add(trial.user_attrs["output_dir"])
        path = root / trial.user_attrs["output_dir"] / "metrics.json"
        try:
            runs.append(json.loads(path.read_text()))
        except (OSError, ValueError) as exc:
            reason = "missing" if isinstance(exc, FileNotFoundError) else "unreadable"
            if problems is not None:
                problems.append(
                    f"finished run {trial.user_attrs['output_dir']} ({plan.final_name}) has a "
                    f"{reason} metrics.json; its cell averages the other seeds (re-run the "
                    f"sweep's command to train it again)"
                )
    return runs[::-1]


def task_columns(plan: StudyPlan, runs: list[dict[str, Any]]) -> list[Column]:
    """The test metric when the task has a test split; ID and OOD for length tasks."""
    metric, direction, task = plan.metric, plan.direction, plan.task.name
    tested = [run for run in runs if "test" in run]
    if tested:
        ood = "ood_" + metric.removeprefix("id_")
        if metric.startswith("id_") and ood in tested[0]["test"].get("summary", {}):
            # length tasks with held-out splits: ID on validation, OOD on the test lengths
            return [
                Column(task, "ID", "summary", metric, direction),
                Column(task, "OOD", "test", ood, direction, primary=True),
            ]
        return [Column(task, f"test {metric}", "test", metric, direction, primary=True)]
    context = runs[0].get("train_max_length") if runs else None
    if metric == "loss" and context and f"loss_{context}" in runs[0].get("summary", {}):
        # language models: loss at the training context, at 4× and 16× it and at the longest
        # multiple evaluated, ranked on the longest (extrapolation, as length tasks rank on OOD)
        evaluated = {
            int(key[5:]) // context
            for key in runs[0]["summary"]
            if key.startswith("loss_") and key[5:].isdigit() and int(key[5:]) % context == 0
        }
        multiples = sorted({m for m in (1, 4, 16) if m in evaluated} | {max(evaluated)})
        return [
            Column(
                task,
                f"loss {m}×",
                "summary",
                f"loss_{m * context}",
                direction,
                primary=m == multiples[-1],
            )
            for m in multiples
        ]
    # length tasks: selected on ID or OOD validation, ranked on OOD (what the task measures)
    for prefix in ("ood_", "id_"):
        if metric.startswith(prefix):
            name = metric[len(prefix) :]
            return [
                Column(task, "ID", "summary", "id_" + name, direction),
                Column(task, "OOD", "summary", "ood_" + name, direction, primary=True),
            ]
    return [Column(task, f"val {metric}", "summary", metric, direction, primary=True)]


def sweep_columns(
    studies: list[tuple[StudyPlan, list[dict[str, Any]]]],
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


def _value(run: dict[str, Any], column: Column) -> float | None:
    values = run.get("test", {}).get("summary", {}) if column.where == "test" else run["summary"]
    value = values.get(column.key)
    return float(value) if value is not None else None


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
            scored = [(r.get("seed", i), _value(r, column)) for i, r in enumerate(runs)]
            scored = [(seed, v) for seed, v in scored if v is not None]
            entry.cells[column.header] = Cell(
                [v for _, v in scored],
                [s for s, _ in scored],
                expected=len(plan.sweep.seeds),
                unscorable=bool(runs) and not scored,
            )
        if runs:
            entry.parameters[plan.task.name] = int(runs[0]["parameters"])
            entry.tokens_per_s += [float(r["tokens_per_s"]) for r in runs]
            devices = (r.get("gpu") or r.get("device") for r in runs)
            entry.throughput_devices.update(str(d) for d in devices if d)
            entry.variants.update(r["encoding_variant"] for r in runs if r.get("encoding_variant"))
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
        for name in tied_with_best(by_seed, column.direction):
            cells[name].tied_with_best = True
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
METHOD = (
    "Cells: mean over the final seeds of each encoding's best configuration (selected on "
    "validation only) ± the half-width of its 95% Student-t interval over seeds. * marks the "
    "best cell of a task's ranked column and every cell not significantly different from it "
    "(two-sided paired t-tests over common seeds, Holm-corrected over the task's encodings, "
    "alpha 0.05). Mean rank (1 = best) over tasks' ranked columns, with a 95% bootstrap "
    "interval from resampling each cell's seeds. "
)


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


def _md_cell(text: str) -> str:
    """A markdown cell, bold when tied with the best (its text ends with ``*``): the value in
    bold and the mark escaped after it, which CommonMark renders as written."""
    if not text.endswith("*"):
        return text
    return f"**{text[:-1].rstrip()}**\\*"


def compact_markdown(columns: list[Column], entries: list[Entry]) -> str:
    """:func:`compact_rows` as a markdown table (tied cells in bold), the README's headline."""
    primary, body = compact_rows(columns, entries)
    lines = ["| " + " | ".join(["encoding", *(c.header for c in primary), "mean rank"]) + " |"]
    lines.append("|---|" + "---:|" * (len(primary) + 1))
    for label, cells, rank in body:
        lines.append("| " + " | ".join([label, *map(_md_cell, cells), rank]) + " |")
    return "\n".join(lines) + "\n"


def throughput_note(entries: list[Entry], bench_device: str | None = None) -> str:
    """Where the tokens/s column comes from: a ``pebench bench`` file, or the final runs."""
    if bench_device:
        return f"Tokens/s: one `pebench bench` measurement per encoding on {bench_device}."
    devices = sorted(set().union(*(e.throughput_devices for e in entries)))
    where = ", ".join(devices) or "devices not recorded"
    return (
        f"Tokens/s: training throughput inside the final runs ({where}; other workers may have "
        f"shared the device), not a controlled measurement (`pebench leaderboard --bench`)."
    )


def _html_text(text: str) -> str:
    """Escaped text with markdown code spans (`x`) as <code>."""
    return re.sub(r"`([^`]+)`", r"<code>\1</code>", html.escape(text))


def write_files(
    root: Path,
    title: str,
    table: tuple[list[str], list[list[str]]],
    entries: list[Entry],
    columns: list[Column] | None = None,
    extra_notes: list[str] | None = None,
    budget_of: Path | None = None,
    bench_device: str | None = None,
) -> dict[str, Path]:
    """leaderboard.{md,csv,html,json} under ``root`` from the text ``table`` (header, body)
    of :func:`rows` and the entries behind it; returns their paths."""
    header, body = table
    paths = {ext: root / f"leaderboard.{ext}" for ext in ("md", "csv", "html", "json")}
    paths["compact"] = root / "leaderboard_compact.md"
    paths["compact"].write_text(compact_markdown(columns or [], entries))
    note = (
        METHOD
        + (f"Parameter differences over {PARAM_TOLERANCE:.0%} from `{BASELINE}` are flagged. ")
        + throughput_note(entries, bench_device)
    )
    extra_notes = extra_notes or []
    md = [f"# {title}", "", note, "", "| " + " | ".join(header) + " |"]
    md.append("|" + "|".join("---" for _ in header) + "|")
    for row in body:  # cells tied with the best in bold
        md.append("| " + " | ".join(map(_md_cell, row)) + " |")
    md += ["", *extra_notes] if extra_notes else []
    paths["md"].write_text("\n".join(md) + "\n")
    with paths["csv"].open("w", newline="") as handle:
        writer = csv.writer(handle)
        writer.writerow(header)
        writer.writerows(body)
    cells = "".join(f"<th>{html.escape(h)}</th>" for h in header)

    def td(cell: str) -> str:
        text = html.escape(cell)
        return f"<td><b>{text}</b></td>" if cell.endswith("*") else f"<td>{text}</td>"

    trs = "".join("<tr>" + "".join(td(c) for c in row) + "</tr>" for row in body)
    images = "".join(
        f'<img src="{html.escape(p.name)}" alt="{html.escape(p.stem)}" width="480">'
        for p in sorted(root.glob("plot_*.png"))
    )
    paths["html"].write_text(
        f"<!doctype html><html><head><meta charset='utf-8'><title>{html.escape(title)}</title>"
        "<style>body{font-family:sans-serif}table{border-collapse:collapse}"
        "td,th{border:1px solid #ccc;padding:4px 8px;text-align:right}"
        "td:first-child,th:first-child{text-align:left}</style></head><body>"
        f"<h1>{html.escape(title)}</h1><p>{_html_text(note)}</p>"
        f"<table><thead><tr>{cells}</tr></thead><tbody>{trs}</tbody></table>"
        + "".join(f"<p>{_html_text(n)}</p>" for n in extra_notes)
        + f"<div>{images}</div></body></html>\n"
    )
    data = [
        {
            "encoding": e.encoding,
            **({"new": True} if e.marked else {}),
            "metrics": {
                h: {
                    "mean": c.mean,
                    "std": c.std,
                    "ci95": list(c.interval) if c.interval else None,
                    "tied_with_best": c.tied_with_best,
                    "values": c.values,
                    "seeds": c.seeds,
                }
                for h, c in e.cells.items()
            },
            "mean_rank": e.mean_rank,
            "mean_rank_ci95": list(e.rank_interval) if e.rank_interval else None,
            "parameters": e.parameters,
            "param_flag": e.param_flag,
            "tokens_per_s": statistics.fmean(e.tokens_per_s) if e.tokens_per_s else None,
            "search_trials": e.search,
        }
        for e in entries
    ]
    described = [c.describe() for c in columns or []]
    document = {"title": title, "columns": described, "rows": data, "notes": extra_notes}
    if budget_of is not None:
        document["budget_of"] = os.path.relpath(budget_of, root)
    paths["json"].write_text(json.dumps(document, indent=2) + "\n")
    return paths


def task_rankings(columns: list[dict[str, Any]], rows: list[dict[str, Any]]) -> dict:
    """{task: {encoding: rank}} on each task's ranked column, from leaderboard.json data."""
    rankings = {}
    for column in (c for c in columns if c["primary"]):
        means = {
            r["encoding"]: r["metrics"][column["header"]]["mean"]
            for r in rows
            if r["metrics"].get(column["header"], {}).get("mean") is not None
        }
        ranks = mean_ranks({column["task"]: means}, {column["task"]: column["direction"]})
        rankings[column["task"]] = ranks
    return rankings


def remembered_budget(root: Path) -> Path | None:
    """The other budget's leaderboard.json that ``root``'s leaderboard was last compared with
    (recorded in its leaderboard.json), so a plain ``pebench leaderboard`` rebuilds the same
    notes."""
    try:
        recorded = json.loads((root / "leaderboard.json").read_text()).get("budget_of")
    except (OSError, ValueError, AttributeError):
        return None
    return root / recorded if isinstance(recorded, str) else None


def budget_notes(
    columns: list[Column], entries: list[Entry], other: Path, label: str = "the other budget"
) -> list[str]:
    """Kendall's τ per task between this leaderboard's ranking and the one in ``other``
    (a leaderboard.json, e.g. the same sweep at a quarter of the budget)."""
    try:
        theirs = json.loads(other.read_text())
        their_rankings = task_rankings(theirs["columns"], theirs["rows"])
    except (OSError, ValueError, KeyError) as exc:
        raise PebenchError(
            f"cannot read a leaderboard from {other} ({exc}); give the leaderboard.json of a "
            f"sweep written by this version of pebench"
        ) from None
    ours = [c.describe() for c in columns]
    our_rows = [
        {"encoding": e.encoding, "metrics": {h: {"mean": c.mean} for h, c in e.cells.items()}}
        for e in entries
    ]
    notes = []
    for task, ranking in task_rankings(ours, our_rows).items():
        if task not in their_rankings:
            continue
        tau, p, n = kendall_tau(ranking, their_rankings[task])
        if n < 2:
            notes.append(
                f"Budget sensitivity, {task}: not measured yet ({n} encoding(s) ranked both "
                f"here and in {label})."
            )
            continue
        notes.append(
            f"Budget sensitivity, {task}: Kendall's tau between this ranking and {label} = "
            f"{tau:.2f} (p = {p:.3f}, {n} encodings)."
        )
    return notes


def terminal_tables(
    title: str, columns: list[Column], entries: list[Entry], width: int = 80
) -> list[Table]:
    """The leaderboard for a terminal of ``width`` columns: encodings as rows, each task's
    ranked metric as one column (compact mean±half-width), the mean rank; tasks split over
    several tables when they do not fit, long names wrapped rather than cut."""
    name_width = min(18, max([len("encoding"), *(len(e.label) for e in entries)]))

    def layout(every: bool) -> tuple[list[Column], list, dict[str, int], int, list]:
        shown, body = compact_rows(columns, entries, terse=True, every=every)
        # a column is as wide as its longest value or header line (headers are stacked)
        widths = {
            c.header: min(16, max([len(w) for w in c.stacked_header.splitlines()]
                                  + [len(texts[i]) for _, texts, _ in body]))
            for i, c in enumerate(shown)
        }  # fmt: skip
        rank_width = max([len("rank"), *(len(rank) for _, _, rank in body)])
        # rich spends 3 characters per column on padding and its left border, 1 on the right
        room = width - 1 - (name_width + 3) - (rank_width + 3)
        groups: list[list[Column]] = [[]]
        for column in shown:  # as many tasks per table as fit, in order
            used = sum(widths[c.header] + 3 for c in groups[-1])
            if groups[-1] and used + widths[column.header] + 3 > room:
                groups.append([])
            groups[-1].append(column)
        return shown, body, widths, rank_width, groups

    # every column (ID beside OOD) when it fits in as many tables as the ranked ones alone
    ranked, every = layout(every=False), layout(every=True)
    primary, body, widths, rank_width, groups = every if len(every[4]) <= len(ranked[4]) else ranked
    tables = []
    for k, group in enumerate(groups):
        part = f" ({k + 1}/{len(groups)})" if len(groups) > 1 else ""
        table = Table(
            title=title + part,
            caption="mean±95% half-width over seeds; * = not worse than the best (Holm)",
        )
        table.add_column("encoding", style="bold", overflow="fold", max_width=name_width)
        for column in group:
            table.add_column(
                column.stacked_header,
                justify="right",
                overflow="fold",
                max_width=widths[column.header],
            )
        table.add_column("mean rank", justify="right", overflow="fold", max_width=rank_width)
        first = primary.index(group[0]) if group else 0
        for label, texts, rank in body:
            cells = texts[first : first + len(group)]
            cells = [f"[bold]{t}[/bold]" if t.endswith("*") else t for t in cells]
            table.add_row(label, *cells, rank)
        tables.append(table)
    return tables


def publish(
    handle: Any,
    tracker: Tracker,
    console: Console | None = None,
    bench_tokens_per_s: dict[str, float] | None = None,
    budget_of: Path | None | bool = None,
    bench_device: str | None = None,
    sources: list[Source] | None = None,
    marked: str | None = None,
    title: str | None = None,
) -> tuple[dict[str, Path], list[Column], list[Entry]]:
    """Build, write, print and log the leaderboard of an opened sweep.

    ``bench_tokens_per_s`` (from a ``pebench bench`` file) replaces the tokens/s measured in
    the sweep's own runs for the encodings it holds: one controlled measurement instead of
    runs that shared a machine with other workers (``bench_device`` names where it was
    taken). ``budget_of`` is another budget's
    leaderboard.json to report Kendall's τ against; ``None`` reuses the one recorded by the
    last leaderboard of this directory, ``False`` drops it. ``sources`` replaces the sweep's
    own studies (a ranked leaderboard: a reference's plus the ranked encoding's, which
    ``marked`` labels). Returns the files written, the columns and the entries.
    """
    from pebench.benchmark.sweep.plots import plot_grids, plot_lengths, plot_throughput

    console = console or Console()
    root, sweep = Path(handle.output_dir), handle.sweep
    root.mkdir(parents=True, exist_ok=True)
    sources = sources if sources is not None else sources_of(handle)
    sweep_plans = [plan for plan, _, _ in sources]
    problems: list[str] = []
    columns, entries = build(sources, problems, marked)
    for entry in entries:
        if bench_tokens_per_s and entry.encoding in bench_tokens_per_s:
            entry.tokens_per_s = [bench_tokens_per_s[entry.encoding]]
    title = title or f"pebench leaderboard: {sweep.name}"
    images = (
        plot_lengths(sweep_plans, entries, root)
        + plot_grids(sweep_plans, entries, root)
        + plot_throughput(columns, entries, root, throughput_note(entries, bench_device))
    )
    if budget_of is False:
        budget_of = None
    elif budget_of is None:
        budget_of = remembered_budget(root)
        if budget_of is not None and not budget_of.is_file():
            problems.append(
                f"the budget comparison this leaderboard recorded, {budget_of}, is missing; "
                f"write that sweep's leaderboard first or pass --budget-of none"
            )
            budget_of = None
    notes = budget_notes(columns, entries, budget_of, budget_of.parent.name) if budget_of else []
    for problem in problems:
        console.print(f"[yellow]warning:[/yellow] {problem}")
    notes += [f"Missing result: {p}" for p in problems]
    header, body = rows(columns, entries)
    paths = write_files(
        root, title, (header, body), entries, columns, notes, budget_of, bench_device
    )
    order = [e.encoding for e in entries]
    oracle = ood_selected_markdown(sweep.name, sources, order, sweep.trials)
    if oracle is not None:
        paths["ood_selected"] = root / "leaderboard_ood_selected.md"
        paths["ood_selected"].write_text(oracle)
    for table in terminal_tables(title, columns, entries, min(console.width, 100)):
        console.print(table)
    for note in notes:
        console.print(note)
    board = f"{sweep.name}/leaderboard" + (f"-{marked}" if marked else "")
    with tracker.run(
        name=board,
        group=sweep.name,
        job_type="leaderboard",
        tags=["leaderboard", *(["rank"] if marked else [])],
        config={"sweep": sweep.name, "tasks": [t.name for t in sweep.tasks]},
        run_id=re.sub(r"[^\w-]", "-", board),  # one run per board, updated
    ) as tracked:
        if tracked.run is not None:
            import wandb

            tracked.run.log(
                {
                    "leaderboard": wandb.Table(columns=header, data=body),
                    **{p.stem: wandb.Image(str(p)) for p in images},
                }
            )
        tracked.state = "complete"
    console.print(f"leaderboard written to {paths['md'].parent}/leaderboard.{{md,csv,html,json}}")
    return {**paths, **{p.stem: p for p in images}}, columns, entries
