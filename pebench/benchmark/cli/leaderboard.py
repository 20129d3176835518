"""``pebench leaderboard`` (rebuild a sweep's leaderboard) and ``pebench compare-reference``
(a sweep against a paper's released figures)."""

from __future__ import annotations

from collections.abc import Sequence
from pathlib import Path
from typing import Any

from rich.console import Console

from pebench.benchmark.cli.arguments import parse_simple, simple_parser, wandb_option
from pebench.errors import PebenchError


def cmd_leaderboard(argv: Sequence[str], console: Console) -> list[Any]:
    parser = simple_parser("leaderboard", "Write a sweep's leaderboard (md, csv, html, png).")
    parser.add_argument("--output_dir", type=str | None, default=None, help="the sweep's directory")
    parser.add_argument("--storage", type=str | None, default=None, help="default: its journal")
    parser.add_argument("--sweep", type=str | None, default=None, help="sweep name")
    parser.add_argument(
        "--bench", type=str | None, default=None, help="take tokens/s from a pebench bench JSON"
    )
    parser.add_argument(
        "--budget_of",
        type=str | None,
        default=None,
        help="another budget's leaderboard.json (or its directory): Kendall's tau per task; "
        "remembered for later rebuilds of this leaderboard, 'none' forgets it",
    )
    wandb_option(parser)
    cfg = parse_simple(parser, argv)
    if cfg.storage is None and cfg.output_dir is None:
        raise PebenchError("give the sweep's --output-dir (or its --storage URL)")
    from pebench.benchmark.leaderboard.publish import PublishOptions, publish
    from pebench.benchmark.run.tracking import Tracker, resolve_mode
    from pebench.benchmark.sweep.launch import open_sweep
    from pebench.benchmark.sweep.storage import JOURNAL_FILE, SweepStorage

    bench_tokens, where = None, None
    if cfg.bench:  # bench imports torch: only when asked for
        from pebench.benchmark.bench import bench_device, tokens_per_second

        bench_tokens, where = tokens_per_second(Path(cfg.bench)), bench_device(Path(cfg.bench))
    if cfg.storage is None and not (Path(cfg.output_dir) / JOURNAL_FILE).is_file():
        raise PebenchError(f"{cfg.output_dir} holds no sweep ({JOURNAL_FILE} not found)")
    if cfg.output_dir and (Path(cfg.output_dir) / "rank.json").is_file():
        from pebench.benchmark.rank import republish

        republish(Path(cfg.output_dir), cfg.wandb, console)
        return []
    storage = SweepStorage(cfg.storage or str(Path(cfg.output_dir) / JOURNAL_FILE))
    out = Path(cfg.output_dir) if cfg.output_dir else None
    handle = open_sweep(storage, cfg.sweep, out)
    mode, _ = resolve_mode(cfg.wandb)
    tracker = Tracker(mode, handle.output_dir, handle.sweep.wandb_project)
    options = PublishOptions(bench_tokens, where, remember_budget=cfg.budget_of != "none")
    if cfg.budget_of not in (None, "none"):
        budget = Path(cfg.budget_of)
        options.budget_of = budget / "leaderboard.json" if budget.is_dir() else budget
    publish(handle, tracker, console, options)
    return []


def cmd_compare_reference(argv: Sequence[str], console: Console) -> list[Any]:
    parser = simple_parser(
        "compare-reference",
        "Compare a sweep's results with a study's released figures (table and overlay plots).",
    )
    parser.add_argument("spec", type=str, help="e.g. configs/references/kazemnejad2023.yaml")
    parser.add_argument("results", type=str, help="the sweep's output directory")
    parser.add_argument("--scale", type=str | None, default=None, help="default: the first")
    cfg = parse_simple(parser, argv)
    from rich.table import Table

    from pebench.benchmark.leaderboard.released import write_comparison

    rows, paths = write_comparison(cfg.spec, cfg.results, cfg.scale)
    table = Table(title="pebench vs released (exact match)")
    for name in ("task", "encoding", "ID rel", "ID ours", "OOD rel", "OOD ours", "agree"):
        table.add_column(name, justify="left" if name in ("task", "encoding") else "right")

    def cell(value: Any) -> str:
        return "–" if value is None else f"{value:.3f}"

    for r in rows:
        verdicts = (r["id_within"], r["ood_within"])
        agree = "–" if None in verdicts else ("yes" if all(verdicts) else "[red]no[/red]")
        table.add_row(
            r["task"], r["encoding"], cell(r["released_id"]), cell(r["pebench_id"]),
            cell(r["released_ood"]), cell(r["pebench_ood"]), agree,
        )  # fmt: skip
    console.print(table)
    console.print("written: " + ", ".join(str(p) for p in paths))
    return []
