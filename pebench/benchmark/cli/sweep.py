"""``pebench sweep`` (run or resume a sweep, then publish its leaderboard), ``pebench
worker`` (join a running sweep from another process or machine) and ``pebench compact``
(shrink a stopped sweep's journal before committing it)."""

from __future__ import annotations

import dataclasses
from collections.abc import Sequence
from pathlib import Path
from typing import Any

from rich.console import Console

from pebench.benchmark.cli.arguments import parse_simple, simple_parser, wandb_option
from pebench.errors import PebenchError


def run_sweep(
    config: str | Path,
    output_dir: Path | None = None,
    storage_url: str | None = None,
    workers: int = 1,
    gpus: str | None = None,
    wandb: str | None = None,
    console: Console | None = None,
    scale: str | None = None,
    loaded: tuple[Any, str] | None = None,
    slurm: Any = None,
) -> Path:
    """Run (or resume) a sweep and write its leaderboard; returns the output directory.
    ``loaded`` is the file already read by :func:`~pebench.benchmark.sweep.config.load_sweep`
    (the command line checks it before torch loads); ``slurm`` (a
    :class:`~pebench.benchmark.sweep.config.SlurmSettings`) runs the workers as a SLURM job
    array instead of on this machine."""
    from pebench.benchmark.leaderboard.publish import publish
    from pebench.benchmark.sweep.config import load_sweep
    from pebench.benchmark.sweep.launch import DEFAULT_ROOT, execute

    console = console or Console()
    sweep, text = loaded or load_sweep(config, scale)
    root = Path(output_dir or DEFAULT_ROOT / sweep.name)
    handle, tracker = execute(
        sweep, text, root, storage_url, workers, gpus, wandb, console, scale=sweep.scale,
        slurm=slurm,
    )  # fmt: skip
    publish(handle, tracker, console)
    return root


def cmd_sweep(argv: Sequence[str], console: Console) -> list[Any]:
    parser = simple_parser("sweep", "Run (or resume) an Optuna sweep over tasks × encodings.")
    parser.add_argument("config", type=str, help="sweep file, e.g. configs/sweeps/quick.yaml")
    parser.add_argument(
        "--output_dir", type=str | None, default=None, help="default runs/sweeps/NAME"
    )
    parser.add_argument("--storage", type=str | None, default=None, help="postgresql://... URL")
    parser.add_argument("--workers", type=int, default=1, help="worker processes on this machine")
    parser.add_argument(
        "--gpus",
        type=str | None,
        default=None,
        help="one worker per id, every run on the GPU: 0,1,2 (repeat an id, 0,0, to share one)",
    )
    parser.add_argument("--scale", type=str | None, default=None, help="a scale of the file")
    from jsonargparse import ActionYesNo

    parser.add_argument(
        "--slurm", action=ActionYesNo, default=False,
        help="run the workers as a SLURM job array (sbatch); defaults from the file's slurm:",
    )  # fmt: skip
    for name, kind, text in SLURM_OPTIONS:
        parser.add_argument(f"--slurm_{name}", type=kind | None, default=None, help=text)
    wandb_option(parser)
    cfg = parse_simple(parser, argv)
    if not Path(cfg.config).is_file():
        raise PebenchError(
            f"sweep file {cfg.config} does not exist; see configs/sweeps/ for presets"
        )
    from pebench.benchmark.sweep.config import load_sweep

    loaded = load_sweep(cfg.config, cfg.scale)  # syntax and schema mistakes before torch loads
    slurm = None
    if cfg.slurm:
        if cfg.gpus:
            raise PebenchError("--gpus places workers on this machine; with --slurm give "
                               "--slurm-gpus (GPUs per array task)")  # fmt: skip
        given = {n: getattr(cfg, f"slurm_{n}") for n, _, _ in SLURM_OPTIONS}
        slurm = dataclasses.replace(
            loaded[0].slurm, **{n: v for n, v in given.items() if v is not None}
        )
    run_sweep(
        cfg.config,
        Path(cfg.output_dir) if cfg.output_dir else None,
        cfg.storage,
        cfg.workers,
        cfg.gpus,
        cfg.wandb,
        console,
        cfg.scale,
        loaded,
        slurm,
    )
    return []


#: ``--slurm-NAME`` options of ``pebench sweep`` (each overrides the file's ``slurm: NAME``)
SLURM_OPTIONS = (
    ("tasks", int, "array tasks, one worker each (default 2)"),
    ("gpus", int, "GPUs per task (--gres=gpu:N; runs on the GPU when above 0)"),
    ("cpus", int, "cores per task (--cpus-per-task; the worker's torch threads)"),
    ("partition", str, "sbatch --partition"),
    ("time", str, "sbatch --time, e.g. 04:00:00"),
    ("account", str, "sbatch --account"),
    ("options", list[str], 'further sbatch arguments, e.g. ["--qos=long"]'),
)


def cmd_worker(argv: Sequence[str], console: Console) -> list[Any]:
    parser = simple_parser("worker", "Join a running sweep and run its trials until done.")
    parser.add_argument("--storage", type=str, required=True, help="storage URL or journal path")
    parser.add_argument("--sweep", type=str | None, default=None, help="sweep name")
    parser.add_argument("--output_dir", type=str | None, default=None, help="default: as stored")
    parser.add_argument("--worker_index", type=int, default=0, help="seeds this worker's sampler")
    parser.add_argument(
        "--threads",
        type=int | None,
        default=None,
        help="CPU threads for this worker (default: every core; with N workers on one "
        "machine give each cores/N)",
    )
    parser.add_argument(
        "--accelerator", type=str | None, default=None, help="override every run's (e.g. gpu)"
    )
    wandb_option(parser)
    cfg = parse_simple(parser, argv)
    if cfg.threads is not None and cfg.threads < 1:
        raise PebenchError(f"--threads must be at least 1, got {cfg.threads}")
    out = Path(cfg.output_dir) if cfg.output_dir else None
    from pebench.benchmark.sweep.launch import run_worker

    run_worker(
        cfg.storage, cfg.sweep, out, cfg.wandb, cfg.worker_index, console, cfg.threads,
        cfg.accelerator,
    )  # fmt: skip
    return []


def cmd_compact(argv: Sequence[str], console: Console) -> list[Any]:
    parser = simple_parser(
        "compact",
        "Drop the records a stopped sweep's journal no longer needs (spent heartbeats, "
        "repeated study creations).",
    )
    parser.add_argument("target", type=str, help="the sweep's output directory or its journal")
    cfg = parse_simple(parser, argv)
    from pebench.benchmark.sweep.compact import compact_journal

    done = compact_journal(cfg.target)
    mib = 2**20
    console.print(
        f"{done.path}: {done.bytes_before / mib:.2f} -> {done.bytes_after / mib:.2f} MiB "
        f"({done.records_before - done.records_after} of {done.records_before} records "
        f"were spent heartbeats or repeated study creations); it replays to the same trials"
    )
    return []
