"""``pebench train`` (one run) and ``pebench compare`` (several encodings, same settings)."""

from __future__ import annotations

import inspect
import json
from collections.abc import Iterator, Sequence
from contextlib import contextmanager
from pathlib import Path
from typing import Any

from rich.console import Console

from pebench.benchmark.cli.arguments import expanded, pop_threads, pop_wandb, preprocess
from pebench.benchmark.run.processes import is_launch_zero
from pebench.errors import PebenchError


def set_threads(spec: Any, console: Console) -> None:
    """Choose the run's CPU threads (:func:`~pebench.benchmark.run.settings.choose_threads`) and
    say so in the run's header line."""
    import torch

    from pebench.benchmark.run.settings import choose_threads

    threads, why = choose_threads(spec.model)
    torch.set_num_threads(threads)
    console.print(f"{spec.output_dir}: {threads} CPU thread(s) ({why}; --threads N to change)")


def tracked_train(spec: Any, mode: str, task: str, encoding: str, group: str) -> Any:
    """Train one run, logging it to W&B in ``mode`` (files under its output directory):
    every resolved setting as the run's config, the per-length table and plots."""
    from pebench.benchmark.run.tracking import Tracker, dashboard_config
    from pebench.benchmark.run.train import train

    if not is_launch_zero():  # one W&B run per run: the other DDP processes log nothing
        mode = "disabled"
    tracker = Tracker(mode, Path(spec.output_dir))  # type: ignore[arg-type]
    config = dashboard_config(spec.config_yaml, task=task, encoding=encoding)
    with tracker.run(
        name=Path(spec.output_dir).name, group=group, job_type="train",
        tags=[task, encoding], config=config,
    ) as tracked:  # fmt: skip
        run = train(spec, loggers=tracked.logger())
        tracked.log_lengths(run)
        tracked.state = "complete"
    return run


@contextmanager
def plugin_help(argv: Sequence[str]) -> Iterator[None]:
    """After ``--encoding.help NAME`` (or ``--task.help``) printed the options, print the
    class's whole docstring: its formula, paper and what each option means (the option list
    alone shows types and defaults, and cuts the description at its first line)."""
    try:
        yield
    except SystemExit as stop:
        for flag, kind in (("--encoding.help", "encoding"), ("--task.help", "task")):
            if stop.code == 0 and flag in argv and argv.index(flag) + 1 < len(argv):
                from pebench import encodings, tasks

                name = argv[argv.index(flag) + 1]
                cls = (encodings if kind == "encoding" else tasks).get(name)
                print(f"\n{kind} {name} ({cls.__module__}.{cls.__qualname__}):\n")
                print(inspect.cleandoc(cls.__doc__ or "(no description)"))
        raise


def cmd_train(argv: Sequence[str], console: Console) -> list[Any]:
    from pebench.benchmark.run.parser import precheck

    mode, argv = pop_wandb(pop_threads(argv))
    with plugin_help(argv):
        precheck("train", expanded(argv))  # help and generic mistakes without loading torch
        from pebench.benchmark.run.spec import build_parser, parse, plugin_name, run_spec

        parser = build_parser("train")
        cfg = parse(parser, preprocess(argv))
    task_name = plugin_name("task", cfg.task.class_path)
    encoding_name = plugin_name("encoding", cfg.encoding.class_path)
    default = Path("runs") / f"{task_name}-{encoding_name}-seed{cfg.seed}"
    spec = run_spec(parser, cfg, Path(cfg.output_dir) if cfg.output_dir else default)
    set_threads(spec, console)
    metrics = tracked_train(spec, mode, task_name, encoding_name, f"{task_name}/{encoding_name}")
    if is_launch_zero():  # the other processes of a DDP run write nothing
        console.print(f"results written to {spec.output_dir}")
    return [metrics]


def cmd_compare(argv: Sequence[str], console: Console) -> list[Any]:
    from pebench.benchmark.run.parser import precheck

    mode, argv = pop_wandb(pop_threads(argv))
    with plugin_help(argv):
        precheck("compare", expanded(argv))
        from pebench.benchmark.run.spec import build_parser, parse, plugin_name, run_spec

        parser, run_parser = build_parser("compare"), build_parser("train")
        cfg = parse(parser, preprocess(argv))
    task_name = plugin_name("task", cfg.task.class_path)
    root = Path(cfg.output_dir or Path("runs") / f"compare-{task_name}")
    names = [plugin_name("encoding", enc.class_path) for enc in cfg.encodings]
    if len(set(names)) != len(names):
        raise PebenchError(f"--encodings lists an encoding twice: {', '.join(names)}")
    specs = []
    for name, encoding in zip(names, cfg.encodings, strict=True):
        run_cfg = cfg.clone()
        del run_cfg["encodings"]
        run_cfg.encoding = encoding
        specs.append(run_spec(run_parser, run_cfg, root / name))
    set_threads(specs[0], console)  # one model size for every encoding compared
    runs = []
    for spec, name in zip(specs, names, strict=True):
        console.rule(f"[bold]{name}")
        runs.append(tracked_train(spec, mode, task_name, name, f"compare-{task_name}"))
    comparison = [run.as_json() for run in runs]
    (root / "comparison.json").write_text(json.dumps(comparison, indent=2) + "\n")
    console.print(f"results written to {root}")
    return runs
