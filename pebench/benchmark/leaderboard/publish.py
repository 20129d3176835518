"""Publishing a leaderboard: build it, write its files and plots, print it and log it to a
W&B ``leaderboard`` run."""

from __future__ import annotations

import re
from pathlib import Path
from typing import Any

from rich.console import Console

from pebench.benchmark.leaderboard.budget import budget_notes, remembered_budget
from pebench.benchmark.leaderboard.collect import Source, sources_of
from pebench.benchmark.leaderboard.ood_selected import ood_selected_markdown
from pebench.benchmark.leaderboard.render import terminal_tables, throughput_note, write_files
from pebench.benchmark.leaderboard.table import Column, Entry, build, rows
from pebench.benchmark.run.tracking import Tracker


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
    from pebench.benchmark.leaderboard.plots import plot_grids, plot_lengths, plot_throughput

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
