"""Publishing a leaderboard: build it, write its files and plots, print it and log it to a
W&B ``leaderboard`` run."""

from __future__ import annotations

import re
from dataclasses import dataclass
from pathlib import Path
from typing import Any

from rich.console import Console

from pebench.benchmark.leaderboard.budget import budget_notes, remembered_budget
from pebench.benchmark.leaderboard.collect import Source, sources_of
from pebench.benchmark.leaderboard.groups import groups_markdown
from pebench.benchmark.leaderboard.ood_selected import ood_selected_markdown
from pebench.benchmark.leaderboard.render import terminal_tables, throughput_note, write_files
from pebench.benchmark.leaderboard.table import Column, Entry, build, rows
from pebench.benchmark.run.tracking import Tracker


@dataclass
class PublishOptions:
    """How a leaderboard is published beyond its sweep's own runs.

    ``bench_tokens_per_s`` (from a ``pebench bench`` file measured on ``bench_device``)
    replaces the tokens/s of the sweep's runs for the encodings it holds: one controlled
    measurement instead of runs that shared a machine with other workers. ``budget_of`` is
    another budget's leaderboard.json to report Kendall's τ against; without one, the one
    this directory's leaderboard recorded last time is reused unless ``remember_budget`` is
    off. ``sources`` replaces the sweep's own studies (a ranked leaderboard: a reference's
    plus the ranked encoding's, whose row ``marked`` labels) under ``title``.
    """

    bench_tokens_per_s: dict[str, float] | None = None
    bench_device: str | None = None
    budget_of: Path | None = None
    remember_budget: bool = True
    sources: list[Source] | None = None
    marked: str | None = None
    title: str | None = None


def publish(
    handle: Any,
    tracker: Tracker,
    console: Console | None = None,
    options: PublishOptions | None = None,
) -> tuple[dict[str, Path], list[Column], list[Entry]]:
    """Build, write, print and log the leaderboard of an opened sweep; returns the files
    written, the columns and the entries."""
    from pebench.benchmark.leaderboard.plots import plot_grids, plot_lengths, plot_throughput

    console, options = console or Console(), options or PublishOptions()
    root, sweep = Path(handle.output_dir), handle.sweep
    root.mkdir(parents=True, exist_ok=True)
    sources = options.sources if options.sources is not None else sources_of(handle)
    problems: list[str] = []
    columns, entries = build(sources, problems, options.marked)
    for entry in entries:
        bench = options.bench_tokens_per_s or {}
        if entry.encoding in bench:
            entry.tokens_per_s = [bench[entry.encoding]]
    title = options.title or f"pebench leaderboard: {sweep.name}"
    plans = [plan for plan, _, _ in sources]
    note = throughput_note(entries, options.bench_device)
    images = (
        plot_lengths(plans, entries, root)
        + plot_grids(plans, entries, root)
        + plot_throughput(columns, entries, root, note)
    )
    budget_of = _budget(root, options, problems)
    notes = budget_notes(columns, entries, budget_of, budget_of.parent.name) if budget_of else []
    for problem in problems:
        console.print(f"[yellow]warning:[/yellow] {problem}")
    notes += [f"Missing result: {p}" for p in problems]
    header, body = rows(columns, entries)
    paths = write_files(
        root, title, (header, body), entries, columns, notes, budget_of, options.bench_device
    )
    order = [e.encoding for e in entries]
    oracle = ood_selected_markdown(sweep.name, sources, order, sweep.trials)
    if oracle is not None:
        paths["ood_selected"] = root / "leaderboard_ood_selected.md"
        paths["ood_selected"].write_text(oracle)
    grouped = groups_markdown(title, columns, entries)
    if grouped is not None:
        paths["groups"] = root / "leaderboard_groups.md"
        paths["groups"].write_text(grouped)
    for table in terminal_tables(title, columns, entries, min(console.width, 100)):
        console.print(table)
    for line in notes:
        console.print(line)
    _log(tracker, sweep, options.marked, (header, body), images)
    console.print(f"leaderboard written to {paths['md'].parent}/leaderboard.{{md,csv,html,json}}")
    return {**paths, **{p.stem: p for p in images}}, columns, entries


def _budget(root: Path, options: PublishOptions, problems: list[str]) -> Path | None:
    """The other budget's leaderboard.json to compare with: the one given, else the one this
    leaderboard recorded (a missing one is reported in ``problems``), else none."""
    if options.budget_of is not None or not options.remember_budget:
        return options.budget_of
    remembered = remembered_budget(root)
    if remembered is not None and not remembered.is_file():
        problems.append(
            f"the budget comparison this leaderboard recorded, {remembered}, is missing; "
            f"write that sweep's leaderboard first or pass --budget-of none"
        )
        return None
    return remembered


def _log(
    tracker: Tracker, sweep: Any, marked: str | None, table: tuple[list[str], list[list[str]]],
    images: list[Path],
) -> None:  # fmt: skip
    """The leaderboard as one W&B run per board (updated in place): its table and plots."""
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

            header, body = table
            tracked.run.log(
                {
                    "leaderboard": wandb.Table(columns=header, data=body),
                    **{p.stem: wandb.Image(str(p)) for p in images},
                }
            )
        tracked.state = "complete"
