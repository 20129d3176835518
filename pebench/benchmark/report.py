"""Terminal tables of run results (rich)."""

from __future__ import annotations

from collections.abc import Sequence
from typing import Any

from rich.console import Console
from rich.table import Table

SUMMARY_COLUMNS = (
    ("id_exact_match", "ID exact"),
    ("id_token_accuracy", "ID acc"),
    ("ood_exact_match", "OOD exact"),
    ("ood_token_accuracy", "OOD acc"),
)


def _shade(value: float) -> str:
    style = "green" if value >= 0.95 else "yellow" if value >= 0.5 else "red"
    return f"[{style}]{value:.3f}[/{style}]"


def summary_table(runs: Sequence[dict[str, Any]], title: str = "Results") -> Table:
    """One row per run: ID/OOD metrics, parameters and training throughput."""
    table = Table(
        title=title, caption="exact = whole-sequence exact match, acc = per-token accuracy"
    )
    table.add_column("encoding", style="bold", no_wrap=True)
    for label in [label for _, label in SUMMARY_COLUMNS] + ["params", "tok/s", "wall s"]:
        table.add_column(label, justify="right", no_wrap=True)
    for run in runs:
        summary = run.get("summary", {})
        cells = [_shade(summary[key]) if key in summary else "–" for key, _ in SUMMARY_COLUMNS]
        table.add_row(
            run["encoding"],
            *cells,
            f"{run['parameters']:,}",
            f"{run['tokens_per_s']:,.0f}",
            f"{run['wall_time_s']:.1f}",
        )
    return table


def length_table(
    runs: Sequence[dict[str, Any]], metric: str = "exact_match", train_max: int | None = None
) -> Table:
    """Rows are input lengths, columns encodings; lengths past ``train_max`` are marked OOD."""
    table = Table(title=f"{metric.replace('_', ' ')} by input length")
    table.add_column("length", justify="right", style="bold")
    for run in runs:
        table.add_column(run["encoding"], justify="right")
    lengths = sorted({int(n) for run in runs for n in run.get("per_length", {})})
    for n in lengths:
        label = f"{n} (OOD)" if train_max is not None and n > train_max else str(n)
        cells = []
        for run in runs:
            values = run.get("per_length", {}).get(str(n))
            cells.append(_shade(values[metric]) if values else "–")
        table.add_row(label, *cells, end_section=n == train_max)
    return table


def print_results(runs: Sequence[dict[str, Any]], console: Console | None = None) -> None:
    """Print the per-length table (when there is one) and the summary table."""
    console = console or Console()
    if any(run.get("per_length") for run in runs):
        console.print(length_table(runs, train_max=runs[0].get("train_max_length")))
    console.print(summary_table(runs))
