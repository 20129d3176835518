"""The leaderboard of a sweep, read from its Optuna storage and run outputs (never from
W&B, which may be offline): rows are encodings, columns each task's metrics as mean ± std
over the final seeds, the mean rank across tasks, parameter count and training tokens/s.

Written as ``leaderboard.md``, ``leaderboard.csv``, ``leaderboard.html`` and
``leaderboard.json``, with PNG plots, printed in the terminal and logged to a W&B
``leaderboard`` run.
"""

from __future__ import annotations

import csv
import html
import json
import statistics
from collections import Counter
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

import optuna
from rich.console import Console
from rich.table import Table

from pebench.benchmark.studies import StudyPlan, plans
from pebench.benchmark.tracking import Tracker

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


@dataclass
class Cell:
    values: list[float] = field(default_factory=list)

    @property
    def mean(self) -> float | None:
        return statistics.fmean(self.values) if self.values else None

    @property
    def std(self) -> float:
        return statistics.stdev(self.values) if len(self.values) > 1 else 0.0

    def text(self, compact: bool = False) -> str:
        if self.mean is None:
            return "–"
        return f"{self.mean:.2f}±{self.std:.2f}" if compact else f"{self.mean:.3f} ± {self.std:.3f}"


@dataclass
class Entry:
    """Everything known about one encoding across the sweep's tasks."""

    encoding: str
    cells: dict[str, Cell] = field(default_factory=dict)
    parameters: dict[str, int] = field(default_factory=dict)
    tokens_per_s: list[float] = field(default_factory=list)
    mean_rank: float | None = None
    param_flag: str = ""
    runs: dict[str, list[dict[str, Any]]] = field(default_factory=dict)
    search: dict[str, dict[str, Any]] = field(default_factory=dict)
    #: non-default variants the runs recorded (``encoding_variant`` in metrics.json)
    variants: set[str] = field(default_factory=set)

    @property
    def label(self) -> str:
        """The encoding's name with the variants its runs used, e.g. ``alibi (directional)``."""
        return f"{self.encoding} ({', '.join(sorted(self.variants))})" if self.variants else (
            self.encoding
        )


def final_runs(plan: StudyPlan, storage: Any, root: Path) -> list[dict[str, Any]]:
    """metrics.json of each finished final run of ``plan``."""
    study = optuna.load_study(study_name=plan.final_name, storage=storage)
    runs = []
    for trial in study.get_trials(deepcopy=False, states=(optuna.trial.TrialState.COMPLETE,)):
        path = root / trial.user_attrs["output_dir"] / "metrics.json"
        if path.is_file():
            runs.append(json.loads(path.read_text()))
    return runs


def task_columns(plan: StudyPlan, runs: list[dict[str, Any]]) -> list[Column]:
    """The test metric when the task has a test split; ID and OOD for length tasks."""
    metric, direction, task = plan.metric, plan.direction, plan.task.name
    if any("test" in run for run in runs):
        return [Column(task, f"test {metric}", "test", metric, direction, primary=True)]
    context = runs[0].get("train_max_length") if runs else None
    if metric == "loss" and context and f"loss_{context}" in runs[0].get("summary", {}):
        # language models: loss at the training context and at 4× and 16× it, ranked on the
        # longest (extrapolation, as length tasks rank on OOD)
        multiples = [m for m in (1, 4, 16) if f"loss_{m * context}" in runs[0]["summary"]]
        return [
            Column(task, f"loss {m}×", "summary", f"loss_{m * context}", direction,
                   primary=m == multiples[-1])
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


def _value(run: dict[str, Any], column: Column) -> float | None:
    values = run.get("test", {}).get("summary", {}) if column.where == "test" else run["summary"]
    value = values.get(column.key)
    return float(value) if value is not None else None


def build(
    sweep_plans: list[StudyPlan], storage: Any, root: Path
) -> tuple[list[Column], list[Entry]]:
    """Collect the leaderboard's columns and one entry per encoding, sorted by mean rank."""
    columns: list[Column] = []
    entries: dict[str, Entry] = {}
    for plan in sweep_plans:
        entry = entries.setdefault(plan.encoding_label, Entry(plan.encoding_label))
        runs = final_runs(plan, storage, root)
        entry.runs[plan.task.name] = runs
        search = optuna.load_study(study_name=plan.name, storage=storage)
        states = Counter(t.state.name.lower() for t in search.get_trials(deepcopy=False))
        entry.search[plan.task.name] = dict(states)
        for column in task_columns(plan, runs):
            if column.header not in [c.header for c in columns]:
                columns.append(column)
            values = [v for v in (_value(r, column) for r in runs) if v is not None]
            entry.cells[column.header] = Cell(values)
        if runs:
            entry.parameters[plan.task.name] = int(runs[0]["parameters"])
            entry.tokens_per_s += [float(r["tokens_per_s"]) for r in runs]
            entry.variants.update(r["encoding_variant"] for r in runs if r.get("encoding_variant"))
    _rank(columns, list(entries.values()))
    _flag_parameters(list(entries.values()))
    ordered = sorted(
        entries.values(), key=lambda e: (e.mean_rank is None, e.mean_rank or 0.0, e.encoding)
    )
    return columns, ordered


def _rank(columns: list[Column], entries: list[Entry]) -> None:
    """Mean over tasks of each encoding's rank on the task's primary column (1 = best)."""
    ranks: dict[str, list[float]] = {e.encoding: [] for e in entries}
    for column in (c for c in columns if c.primary):
        scored = [(e.cells[column.header].mean, e) for e in entries if column.header in e.cells]
        scored = [(m, e) for m, e in scored if m is not None]
        sign = -1 if column.direction == "maximize" else 1
        for mean, entry in scored:  # tied encodings share the mean of their positions
            better = sum(sign * m < sign * mean for m, _ in scored)
            tied = sum(m == mean for m, _ in scored)
            ranks[entry.encoding].append(1 + better + (tied - 1) / 2)
    for entry in entries:
        if ranks[entry.encoding]:
            entry.mean_rank = statistics.fmean(ranks[entry.encoding])


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
                "–" if e.mean_rank is None else f"{e.mean_rank:.2f}",
                "–" if params is None else f"{params:,}",
                e.param_flag,
                f"{statistics.fmean(e.tokens_per_s):,.0f}" if e.tokens_per_s else "–",
            ]
        )
    return header, body


def write_files(
    root: Path, title: str, table: tuple[list[str], list[list[str]]], entries: list[Entry]
) -> dict[str, Path]:
    """leaderboard.{md,csv,html,json} under ``root`` from the text ``table`` (header, body)
    of :func:`rows` and the entries behind it; returns their paths."""
    header, body = table
    paths = {ext: root / f"leaderboard.{ext}" for ext in ("md", "csv", "html", "json")}
    note = (
        "Mean ± std over the final seeds of each encoding's best configuration (selected on "
        "validation only). Rank 1 = best, averaged over tasks. Parameter differences over "
        f"{PARAM_TOLERANCE:.0%} from `{BASELINE}` are flagged."
    )
    md = [f"# {title}", "", note, "", "| " + " | ".join(header) + " |"]
    md.append("|" + "|".join("---" for _ in header) + "|")
    md += ["| " + " | ".join(row) + " |" for row in body]
    paths["md"].write_text("\n".join(md) + "\n")
    with paths["csv"].open("w", newline="") as handle:
        writer = csv.writer(handle)
        writer.writerow(header)
        writer.writerows(body)
    cells = "".join(f"<th>{html.escape(h)}</th>" for h in header)
    trs = "".join(
        "<tr>" + "".join(f"<td>{html.escape(c)}</td>" for c in row) + "</tr>" for row in body
    )
    images = "".join(
        f'<img src="{html.escape(p.name)}" alt="{html.escape(p.stem)}" width="480">'
        for p in sorted(root.glob("plot_*.png"))
    )
    paths["html"].write_text(
        f"<!doctype html><html><head><meta charset='utf-8'><title>{html.escape(title)}</title>"
        "<style>body{font-family:sans-serif}table{border-collapse:collapse}"
        "td,th{border:1px solid #ccc;padding:4px 8px;text-align:right}</style></head><body>"
        f"<h1>{html.escape(title)}</h1><p>{html.escape(note)}</p>"
        f"<table><thead><tr>{cells}</tr></thead><tbody>{trs}</tbody></table>"
        f"<div>{images}</div></body></html>\n"
    )
    data = [
        {
            "encoding": e.encoding,
            "metrics": {
                h: {"mean": c.mean, "std": c.std, "values": c.values} for h, c in e.cells.items()
            },
            "mean_rank": e.mean_rank,
            "parameters": e.parameters,
            "param_flag": e.param_flag,
            "tokens_per_s": statistics.fmean(e.tokens_per_s) if e.tokens_per_s else None,
            "search_trials": e.search,
        }
        for e in entries
    ]
    paths["json"].write_text(json.dumps({"title": title, "rows": data}, indent=2) + "\n")
    return paths


def terminal_table(title: str, columns: list[Column], entries: list[Entry]) -> Table:
    header, body = rows(columns, entries, compact=True)
    table = Table(title=title, caption="mean ± std over final seeds; rank 1 = best")
    for i, name in enumerate(header):
        table.add_column(
            name, justify="left" if i == 0 else "right", style="bold" if i == 0 else ""
        )
    for row in body:
        table.add_row(*row)
    return table


def publish(
    handle: Any,
    tracker: Tracker,
    console: Console | None = None,
    bench_tokens_per_s: dict[str, float] | None = None,
) -> dict[str, Path]:
    """Build, write, print and log the leaderboard of an opened sweep.

    ``bench_tokens_per_s`` (from a ``pebench bench`` file) replaces the tokens/s measured in
    the sweep's own runs for the encodings it holds: one controlled measurement instead of
    runs that shared a machine with other workers.
    """
    from pebench.benchmark.plots import plot_grids, plot_lengths, plot_throughput

    console = console or Console()
    root, sweep = Path(handle.output_dir), handle.sweep
    root.mkdir(parents=True, exist_ok=True)
    sweep_plans = plans(sweep)
    columns, entries = build(sweep_plans, handle.storage.optuna, root)
    for entry in entries:
        if bench_tokens_per_s and entry.encoding in bench_tokens_per_s:
            entry.tokens_per_s = [bench_tokens_per_s[entry.encoding]]
    title = f"pebench leaderboard: {sweep.name}"
    images = (
        plot_lengths(sweep_plans, entries, root)
        + plot_grids(sweep_plans, entries, root)
        + plot_throughput(columns, entries, root)
    )
    header, body = rows(columns, entries)
    paths = write_files(root, title, (header, body), entries)
    console.print(terminal_table(title, columns, entries))
    with tracker.run(
        name=f"{sweep.name}/leaderboard",
        group=sweep.name,
        job_type="leaderboard",
        tags=["leaderboard"],
        config={"sweep": sweep.name, "tasks": [t.name for t in sweep.tasks]},
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
    return {**paths, **{p.stem: p for p in images}}
