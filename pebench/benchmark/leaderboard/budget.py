"""The budget comparison: Kendall's τ per task between a leaderboard and the same sweep at
another budget (its ``leaderboard.json``)."""

from __future__ import annotations

import json
from pathlib import Path
from typing import Any

from pebench.benchmark.leaderboard.significance import (
    kendall_tau,
    mean_ranks,
)
from pebench.benchmark.leaderboard.table import Column, Entry
from pebench.errors import PebenchError


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
