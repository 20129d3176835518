"""Terminal tables of run results (rich), for any task's metrics."""

from __future__ import annotations

import re
from collections.abc import Sequence

from rich.console import Console
from rich.table import Table

from pebench.benchmark.run.record import RunRecord

#: metric names shown shorter in table headers
SHORT = {
    "id_exact_match": "ID exact",
    "id_token_accuracy": "ID acc",
    "ood_exact_match": "OOD exact",
    "ood_token_accuracy": "OOD acc",
    "token_accuracy": "token acc",
}
#: per-length metric shown in the length table, by preference
LENGTH_METRICS = ("exact_match", "f1", "accuracy", "loss")
#: metrics where lower is better and values are not in [0, 1]: shown unshaded
UNBOUNDED = ("loss", "bpc", "perplexity")


def _shade(value: float) -> str:
    style = "green" if value >= 0.95 else "yellow" if value >= 0.5 else "red"
    return f"[{style}]{value:.3f}[/{style}]"


def _cell(key: str, value: float | None) -> str:
    """A metric as table text: ``n/a`` when not applicable (e.g. a length a learned table
    cannot represent), plain for losses, shaded for scores in [0, 1]."""
    if value is None:
        return "n/a"
    return f"{value:.3f}" if key.startswith(UNBOUNDED) else _shade(value)


def _metric_columns(runs: Sequence[RunRecord]) -> list[tuple[str, str]]:
    """(where, key) pairs to show: every validation metric, or, when runs were tested, the
    selection metric on validation followed by every test metric."""
    columns: list[tuple[str, str]] = []
    tested = any(run.test is not None for run in runs)
    for run in runs:
        if tested:
            wanted = [("summary", run.monitor or "")]
            wanted += [("test", key) for key in (run.test or {}).get("summary", {})]
        else:
            # per-length values (e.g. loss_256) belong to the length table, not here
            per_length = run.per_length
            wanted = [
                ("summary", key)
                for key in run.summary
                if key.rpartition("_")[2] not in per_length
            ]
        columns += [c for c in wanted if c not in columns and c[1]]
    return columns


def summary_table(runs: Sequence[RunRecord], title: str = "Results") -> Table:
    """One row per run: validation (and test) metrics, parameters and training throughput."""
    columns = _metric_columns(runs)
    tested = any(where == "test" for where, _ in columns)
    caption = "val = validation (used for selection), test = held-out test" if tested else ""
    table = Table(title=title, caption=caption)
    table.add_column("encoding", style="bold", no_wrap=True)
    for where, key in columns:
        label = SHORT.get(key, key.replace("_", " "))
        prefix = {"test": "test ", "summary": "val " if tested else ""}[where]
        table.add_column(prefix + label, justify="right")
    for label in ("params", "tok/s", "wall s"):
        table.add_column(label, justify="right", no_wrap=True)
    for run in runs:
        cells = []
        for where, key in columns:
            values = (run.test or {}).get("summary", {}) if where == "test" else run.summary
            cells.append(_cell(key, values[key]) if key in values else "–")
        table.add_row(
            run.encoding,
            *cells,
            f"{run.parameters:,}",
            f"{run.tokens_per_s:,.0f}",
            f"{run.wall_time_s or 0.0:.1f}",
        )
    return table


def _length_order(key: str) -> tuple[int, str]:
    match = re.match(r"\d+", key)
    return (int(match.group()) if match else 0, key)


def length_table(runs: Sequence[RunRecord], train_max: int | None = None) -> Table | None:
    """Rows are input lengths (or length buckets), columns encodings; lengths past
    ``train_max`` are marked OOD. None when the runs have no per-length metrics."""
    keys = sorted({k for run in runs for k in run.per_length}, key=_length_order)
    if not keys:
        return None
    sample = next(iter(runs[0].per_length.values()), {})
    metric = next((m for m in LENGTH_METRICS if m in sample), None)
    if metric is None:
        return None
    table = Table(title=f"validation {metric.replace('_', ' ')} by input length")
    table.add_column("length", justify="right", style="bold", no_wrap=True)
    for run in runs:
        table.add_column(run.encoding, justify="right")
    for key in keys:
        ood = train_max is not None and key.isdigit() and int(key) > train_max
        cells = []
        for run in runs:
            values = run.per_length.get(key)
            empty = not values or values.get("support", values.get("count")) == 0
            cells.append("–" if empty else _cell(metric, values[metric]))
        table.add_row(f"{key} (OOD)" if ood else key, *cells, end_section=key == str(train_max))
    return table


def print_results(runs: Sequence[RunRecord], console: Console | None = None) -> None:
    """Print the per-length table (when there is one) and the summary table."""
    console = console or Console()
    lengths = length_table(runs, train_max=runs[0].details.get("train_max_length"))
    if lengths is not None:
        console.print(lengths)
    console.print(summary_table(runs))
    truncated = (runs[0].data or {}).get("truncated") or {}
    cut = {s: t for s, t in truncated.items() if t["examples"]}
    if cut:
        parts = ", ".join(
            f"{split} {t['examples']} of {t['of']} examples ({t['tokens']} tokens)"
            for split, t in cut.items()
        )
        console.print(
            f"[yellow]max_length {(runs[0].data or {})['max_length']} truncated {parts}; raise "
            f"--task.max-length to keep them[/yellow]"
        )
