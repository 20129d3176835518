"""The ``pebench`` command line: ``train``, ``compare`` and ``list``.

Configuration is parsed and validated by jsonargparse from the typed signatures in
:mod:`pebench.benchmark.config`, the task classes and the encoding classes: a YAML file
(``--config``) merged with dotted overrides (``--model.d_model 128``,
``--encoding.base 500``). This module adds only thin conveniences on top: short flags
(``--max-steps``), and registered names (``--encoding rope``) translated to the dotted class
paths jsonargparse resolves.
"""

from __future__ import annotations

import inspect
import json
import os
import sys
from collections.abc import Iterator, Sequence
from contextlib import contextmanager
from pathlib import Path
from typing import Any

from rich.console import Console

from pebench.errors import PebenchError

# Only light modules are imported here: torch, Lightning and the registries load inside the
# commands that need them, so `pebench --help`, `pebench list` and argument errors of the
# sweep commands answer without seconds of start-up.

#: short flag → the jsonargparse key it stands for
ALIASES = {
    "--max-steps": "--train.max_steps",
    "--batch-size": "--train.batch_size",
    "--eval-every": "--train.eval_every",
    "--output-dir": "--output_dir",
    "--worker-index": "--worker_index",
    "--budget-of": "--budget_of",
    "--d-model": "--model.d_model",
    "--layers": "--model.num_layers",
    "--heads": "--model.num_heads",
    "--lr": "--optim.lr",
    "--formulation": "--task.formulation",
}


def expanded(argv: Sequence[str]) -> list[str]:
    """Arguments with ``--option=value`` split in two and short flags expanded."""
    tokens: list[str] = []
    for arg in argv:
        if arg.startswith("--") and "=" in arg:
            tokens.extend(arg.split("=", 1))
        else:
            tokens.append(arg)
    return [ALIASES.get(token, token) for token in tokens]


def preprocess(argv: Sequence[str]) -> list[str]:
    """Expand short flags and registered names into what jsonargparse understands."""
    from pebench.benchmark.run_parser import option_values, plugin_value
    from pebench.benchmark.spec import PLUGIN_KEYS, load_config, normalize_plugin

    tokens = expanded(argv)
    out: list[str] = []
    i = 0
    while i < len(tokens):
        flag = tokens[i]
        i += 1
        key = flag[2:]
        if key == "config":
            values, i = option_values(tokens, i)
            if not values:
                raise PebenchError(f"{flag} needs a value")
            out.extend(item for path in values for item in ("--config", load_config(path)))
        elif key in PLUGIN_KEYS:
            values, i = option_values(tokens, i)
            value = normalize_plugin(key, plugin_value(flag, values))
            out.extend([flag, value if isinstance(value, str) else json.dumps(value)])
        elif key.endswith(".help") and key[:-5] in PLUGIN_KEYS and i < len(tokens):
            out += [flag, normalize_plugin(key[:-5], tokens[i])]  # --task.help copy
            i += 1
        else:
            out.append(flag)
    from pebench.benchmark.argparser import undashed

    return undashed(out)


def pop_option(argv: Sequence[str], flag: str) -> tuple[str | None, list[str]]:
    """The value of ``flag VALUE`` (or ``flag=VALUE``) and the arguments without it."""
    rest = list(argv)
    for i, arg in enumerate(rest):
        if arg == flag or arg.startswith(flag + "="):
            inline = "=" in arg
            value = arg.split("=", 1)[1] if inline else (rest[i + 1 : i + 2] or [""])[0]
            del rest[i : i + (1 if inline else 2)]
            return value, rest
    return None, rest


def pop_wandb(argv: Sequence[str]) -> tuple[str, list[str]]:
    """``--wandb MODE`` taken out of a train/compare command line: the W&B mode (``disabled``
    unless given; ``online`` needs ``wandb login`` or ``WANDB_API_KEY``) and the rest."""
    from pebench.benchmark.sweep.tracking import MODES

    mode, rest = pop_option(argv, "--wandb")
    if mode is not None and mode not in MODES:
        raise PebenchError(f"--wandb takes one of {', '.join(MODES)}, got {mode!r}")
    return mode or "disabled", rest


def pop_threads(argv: Sequence[str]) -> list[str]:
    """``--threads N`` taken out of a train/compare command line into ``$PEBENCH_NUM_THREADS``
    (which the run, and the workers it may start, honour)."""
    value, rest = pop_option(argv, "--threads")
    if value is not None:
        if not value.isdigit() or int(value) < 1:
            raise PebenchError(f"--threads takes a whole number of at least 1, got {value!r}")
        os.environ["PEBENCH_NUM_THREADS"] = value
    return rest


def set_threads(spec: Any, console: Console) -> None:
    """Choose the run's CPU threads (:func:`~pebench.benchmark.settings.choose_threads`) and
    say so in the run's header line."""
    import torch

    from pebench.benchmark.settings import choose_threads

    threads, why = choose_threads(spec.model)
    torch.set_num_threads(threads)
    console.print(f"{spec.output_dir}: {threads} CPU thread(s) ({why}; --threads N to change)")


def tracked_train(spec: Any, mode: str, task: str, encoding: str, group: str) -> dict[str, Any]:
    """Train one run, logging it to W&B in ``mode`` (files under its output directory):
    every resolved setting as the run's config, the per-length table and plots."""
    from pebench.benchmark.sweep.tracking import Tracker, dashboard_config
    from pebench.benchmark.train import train

    tracker = Tracker(mode, Path(spec.output_dir))  # type: ignore[arg-type]
    config = dashboard_config(spec.config_yaml, task=task, encoding=encoding)
    with tracker.run(
        name=Path(spec.output_dir).name, group=group, job_type="train",
        tags=[task, encoding], config=config,
    ) as tracked:  # fmt: skip
        metrics = train(spec, loggers=tracked.logger())
        tracked.log_lengths(metrics)
        tracked.state = "complete"
    return metrics


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


def cmd_train(argv: Sequence[str], console: Console) -> list[dict[str, Any]]:
    from pebench.benchmark.run_parser import precheck

    mode, argv = pop_wandb(pop_threads(argv))
    with plugin_help(argv):
        precheck("train", expanded(argv))  # help and generic mistakes without loading torch
        from pebench.benchmark.spec import build_parser, parse, plugin_name, run_spec

        parser = build_parser("train")
        cfg = parse(parser, preprocess(argv))
    task_name = plugin_name("task", cfg.task.class_path)
    encoding_name = plugin_name("encoding", cfg.encoding.class_path)
    default = Path("runs") / f"{task_name}-{encoding_name}-seed{cfg.seed}"
    spec = run_spec(parser, cfg, Path(cfg.output_dir) if cfg.output_dir else default)
    set_threads(spec, console)
    metrics = tracked_train(spec, mode, task_name, encoding_name, f"{task_name}/{encoding_name}")
    console.print(f"results written to {spec.output_dir}")
    return [metrics]


def cmd_compare(argv: Sequence[str], console: Console) -> list[dict[str, Any]]:
    from pebench.benchmark.run_parser import precheck

    mode, argv = pop_wandb(pop_threads(argv))
    with plugin_help(argv):
        precheck("compare", expanded(argv))
        from pebench.benchmark.spec import build_parser, parse, plugin_name, run_spec

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
    (root / "comparison.json").write_text(json.dumps(runs, indent=2) + "\n")
    console.print(f"results written to {root}")
    return runs


def _simple_parser(command: str, description: str) -> Any:
    from pebench.benchmark.argparser import PebenchParser

    return PebenchParser(prog=f"pebench {command}", description=description, exit_on_error=False)


def _parse_simple(parser: Any, argv: Sequence[str]) -> Any:
    """Parse a command's own options (no plug-in classes), errors as one line."""
    from jsonargparse import ArgumentError

    from pebench.benchmark.argparser import undashed

    try:
        return parser.parse_args(undashed([ALIASES.get(a, a) for a in argv]))
    except ArgumentError as exc:
        lines = [line.strip() for line in str(exc).splitlines() if line.strip()]
        raise PebenchError(f"{' '.join(lines)} (see `{parser.prog} --help`)") from None


def _wandb_option(parser: Any) -> None:
    parser.add_argument(
        "--wandb",
        type=str | None,
        default=None,
        help="online|offline|disabled (default: online with an API key, else offline)",
    )


def cmd_sweep(argv: Sequence[str], console: Console) -> list[dict[str, Any]]:
    parser = _simple_parser("sweep", "Run (or resume) an Optuna sweep over tasks × encodings.")
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
    _wandb_option(parser)
    cfg = _parse_simple(parser, argv)
    if not Path(cfg.config).is_file():
        raise PebenchError(
            f"sweep file {cfg.config} does not exist; see configs/sweeps/ for presets"
        )
    from pebench.benchmark.sweep.config import load_sweep

    load_sweep(cfg.config, cfg.scale)  # syntax and schema mistakes before torch loads
    from pebench.benchmark.sweep.run import run_sweep

    run_sweep(
        cfg.config,
        Path(cfg.output_dir) if cfg.output_dir else None,
        cfg.storage,
        cfg.workers,
        cfg.gpus,
        cfg.wandb,
        console,
        cfg.scale,
    )
    return []


def cmd_worker(argv: Sequence[str], console: Console) -> list[dict[str, Any]]:
    parser = _simple_parser("worker", "Join a running sweep and run its trials until done.")
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
    _wandb_option(parser)
    cfg = _parse_simple(parser, argv)
    if cfg.threads is not None and cfg.threads < 1:
        raise PebenchError(f"--threads must be at least 1, got {cfg.threads}")
    out = Path(cfg.output_dir) if cfg.output_dir else None
    from pebench.benchmark.sweep.run import run_worker

    run_worker(
        cfg.storage, cfg.sweep, out, cfg.wandb, cfg.worker_index, console, cfg.threads,
        cfg.accelerator,
    )  # fmt: skip
    return []


def cmd_leaderboard(argv: Sequence[str], console: Console) -> list[dict[str, Any]]:
    parser = _simple_parser("leaderboard", "Write a sweep's leaderboard (md, csv, html, png).")
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
    _wandb_option(parser)
    cfg = _parse_simple(parser, argv)
    if cfg.storage is None and cfg.output_dir is None:
        raise PebenchError("give the sweep's --output-dir (or its --storage URL)")
    from pebench.benchmark.sweep.leaderboard import publish
    from pebench.benchmark.sweep.run import open_sweep
    from pebench.benchmark.sweep.storage import JOURNAL_FILE, SweepStorage
    from pebench.benchmark.sweep.tracking import Tracker, resolve_mode

    bench_tokens, where = None, None
    if cfg.bench:  # bench imports torch: only when asked for
        from pebench.benchmark.bench import bench_device, tokens_per_second

        bench_tokens, where = tokens_per_second(Path(cfg.bench)), bench_device(Path(cfg.bench))
    if cfg.storage is None and not (Path(cfg.output_dir) / JOURNAL_FILE).is_file():
        raise PebenchError(f"{cfg.output_dir} holds no sweep ({JOURNAL_FILE} not found)")
    if cfg.output_dir and (Path(cfg.output_dir) / "rank.json").is_file():
        from pebench.benchmark.sweep.rank import republish

        republish(Path(cfg.output_dir), cfg.wandb, console)
        return []
    storage = SweepStorage(cfg.storage or str(Path(cfg.output_dir) / JOURNAL_FILE))
    out = Path(cfg.output_dir) if cfg.output_dir else None
    handle = open_sweep(storage, cfg.sweep, out)
    mode, _ = resolve_mode(cfg.wandb)
    tracker = Tracker(mode, handle.output_dir, handle.sweep.wandb_project)
    budget: Path | bool | None = None  # None: the one this leaderboard recorded last time
    if cfg.budget_of is not None:
        budget = False if cfg.budget_of == "none" else Path(cfg.budget_of)
    if isinstance(budget, Path) and budget.is_dir():
        budget = budget / "leaderboard.json"
    publish(handle, tracker, console, bench_tokens, budget, where)
    return []


def cmd_rank(argv: Sequence[str], console: Console) -> list[dict[str, Any]]:
    parser = _simple_parser(
        "rank",
        "Rank one encoding against a reference leaderboard: run the reference's protocol for "
        "it alone, then write the leaderboard with its row inserted and a summary. Encoding "
        "options as in `pebench train`: --encoding.NAME VALUE.",
    )
    parser.add_argument("encoding", type=str, help="a registered name or a dotted class path")
    parser.add_argument(
        "--reference", type=str, default="results/reference",
        help="a finished reference sweep's directory, e.g. results/reference-quarter",
    )  # fmt: skip
    parser.add_argument(
        "--scale", type=str | None, default=None, help="must be the reference's (checked)"
    )
    parser.add_argument("--label", type=str | None, default=None, help="the new row's name")
    parser.add_argument(
        "--output_dir", type=str | None, default=None, help="default runs/rank/LABEL-vs-SWEEP"
    )
    parser.add_argument("--workers", type=int, default=1, help="worker processes on this machine")
    parser.add_argument(
        "--gpus", type=str | None, default=None, help="one worker per id, as in pebench sweep"
    )
    _wandb_option(parser)
    own, options = [], {}
    tokens = expanded(argv)
    i = 0
    while i < len(tokens):
        if tokens[i].startswith("--encoding."):
            if i + 1 >= len(tokens):
                raise PebenchError(f"{tokens[i]} needs a value (see `pebench rank --help`)")
            options[tokens[i].removeprefix("--encoding.")] = _option_value(tokens[i + 1])
            i += 2
        else:
            own.append(tokens[i])
            i += 1
    cfg = _parse_simple(parser, own)
    if os.getcwd() not in sys.path:  # a dotted path may name a module of this directory
        sys.path.insert(0, os.getcwd())
    from pebench.benchmark.sweep.rank import run_rank

    run_rank(
        cfg.encoding, options, Path(cfg.reference), cfg.scale,
        Path(cfg.output_dir) if cfg.output_dir else None, cfg.workers, cfg.gpus, cfg.wandb,
        console, cfg.label,
    )  # fmt: skip
    return []


def _option_value(text: str) -> Any:
    """A command-line value as YAML reads it (``0.5`` a float, ``true`` a bool)."""
    import yaml

    try:
        return yaml.safe_load(text)
    except yaml.YAMLError:
        return text


def cmd_compare_reference(argv: Sequence[str], console: Console) -> list[dict[str, Any]]:
    parser = _simple_parser(
        "compare-reference",
        "Compare a sweep's results with a study's released figures (table and overlay plots).",
    )
    parser.add_argument("spec", type=str, help="e.g. configs/references/kazemnejad2023.yaml")
    parser.add_argument("results", type=str, help="the sweep's output directory")
    parser.add_argument("--scale", type=str | None, default=None, help="default: the first")
    cfg = _parse_simple(parser, argv)
    from rich.table import Table

    from pebench.benchmark.reference import write_comparison

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


def _bench_argv(argv: Sequence[str]) -> list[str]:
    """``--seq-len`` → ``--seq_len``, ``--layers``/``--heads`` short forms, and the names
    after ``--encodings`` gathered into one list."""
    short = {"--layers": "--num_layers", "--heads": "--num_heads"}
    out: list[str] = []
    names: list[str] | None = None
    for arg in argv:
        if arg.startswith("--"):
            flag = short.get(arg, "--" + arg[2:].replace("-", "_"))
            names = [] if flag == "--encodings" else None
            out.extend(["--encodings", "[]"] if names is not None else [flag])
        elif names is not None:
            names.append(arg)
            out[-1] = json.dumps(names)
        else:
            out.append(arg)
    return out


def cmd_bench(argv: Sequence[str], console: Console) -> list[dict[str, Any]]:
    from pebench import encodings
    from pebench.benchmark import bench

    parser = _simple_parser(
        "bench", "Time training and inference of encodings beside torch.nn.TransformerEncoder."
    )
    size, options = bench.BenchSize(), bench.BenchOptions()
    parser.add_argument("--encodings", type=list[str] | None, default=None, help="default: all")
    for group in (size, options):
        for name, value in vars(group).items():
            kind = type(value) if value is not None else float | None
            parser.add_argument(f"--{name}", type=kind, default=value)
    parser.add_argument("--output", type=str, default="runs/bench/bench.json", help="JSON file")
    cfg = _parse_simple(parser, _bench_argv(argv))
    size = bench.BenchSize(**{k: cfg[k] for k in vars(size)})
    options = bench.BenchOptions(**{k: cfg[k] for k in vars(options)})
    names = cfg.encodings or list(encodings.available())
    output = Path(cfg.output)
    if output.exists() and not output.is_file():
        raise PebenchError(f"--output {output} is a directory; give a file name such as bench.json")
    measured: list[Any] = []
    with console.status("measuring") as status:

        def keep(result: Any) -> None:  # a killed bench still leaves what it measured
            measured.append(result)
            bench.write_json(output, measured, size, options)
            status.update(f"measured {result.name}; measuring next")

        results = bench.run_bench(names, size, options, keep)
    data_ms = 1e3 * bench.data_seconds(size)
    bench.write_json(output, results, size, options, data_ms)
    for table in bench.tables(results, size, options):
        console.print(table)
    none = next((r for r in results if r.name == bench.REFERENCE), None)
    share = ""
    if none is not None and none.train_step_ms:
        share = f" ({100 * data_ms / none.train_step_ms:.1f}% of a `none` step)"
    console.print(f"synthetic data: {data_ms:.2f} ms per batch{share}")
    console.print(f"results written to {output}")
    return []


def cmd_list(argv: Sequence[str], console: Console) -> list[dict[str, Any]]:
    from rich.markup import escape
    from rich.table import Table

    from pebench.catalog import listing

    if argv:
        raise PebenchError(f"`pebench list` takes no arguments, got {' '.join(argv)}")
    encodings, tasks = listing()
    tables = []
    titles = ("Encodings (--encoding NAME)", "Tasks (--task NAME)")
    for title, entries in zip(titles, (encodings, tasks), strict=True):
        table = Table(title=title)
        table.add_column("name", style="bold")
        table.add_column("description")
        for name, description in entries.items():
            table.add_row(name, escape(description))
        tables.append(table)
    console.print(*tables)
    return []


COMMANDS = {
    "train": cmd_train,
    "compare": cmd_compare,
    "sweep": cmd_sweep,
    "worker": cmd_worker,
    "leaderboard": cmd_leaderboard,
    "rank": cmd_rank,
    "compare-reference": cmd_compare_reference,
    "bench": cmd_bench,
    "list": cmd_list,
}
USAGE = (
    "usage: pebench {train,compare,sweep,worker,leaderboard,rank,compare-reference,bench,list} "
    "[--help] [--debug] ...\n"
    "  train        train one encoding on one task (pebench train --task copy --encoding rope)\n"
    "  compare      train several encodings with the same settings and print a comparison\n"
    "  sweep        Optuna sweep over tasks x encodings (pebench sweep configs/sweeps/quick.yaml)\n"
    "  worker       join a running sweep from another process or machine\n"
    "  leaderboard  write a sweep's leaderboard (md, csv, html, png)\n"
    "  rank         your encoding against the reference leaderboard (pebench rank my.Enc)\n"
    "  compare-reference  compare a sweep with a study's released figures\n"
    "  bench        time each encoding's training step and inference beside torch's Transformer\n"
    "  list         list the available encodings and tasks"
)


#: what to do after Ctrl-C (or SIGTERM), per command
INTERRUPT_HINTS = {
    "sweep": "; re-run the same command to resume (interrupted trials run again)",
    "worker": "; re-run the same command to rejoin (interrupted trials run again)",
    "rank": "; re-run the same command to resume (interrupted trials run again)",
    "train": "; continue with the same command plus --resume",
}


def main(argv: Sequence[str] | None = None) -> int:
    """Entry point of the ``pebench`` command; returns the exit status."""
    args = list(sys.argv[1:] if argv is None else argv)
    debug = "--debug" in args
    args = [a for a in args if a != "--debug"]
    console = Console()
    if not args or args[0] in ("-h", "--help"):
        print(USAGE)
        return 0 if args else 2
    command = COMMANDS.get(args[0])
    if command is None:
        print(f"pebench: error: unknown command {args[0]!r}\n{USAGE}", file=sys.stderr)
        return 2
    try:
        runs = command(args[1:], console)
    except PebenchError as exc:
        if debug:
            raise
        from pebench.benchmark.argparser import dashed

        print(f"pebench: error: {dashed(str(exc))}", file=sys.stderr)
        return 2
    except KeyboardInterrupt as exc:
        # a single run knows whether it saved a checkpoint; a sweep always resumes
        own = getattr(exc, "hint", None) if args[0] == "train" else None
        hint = own or INTERRUPT_HINTS.get(args[0], "")
        print(f"pebench: interrupted{hint}", file=sys.stderr)
        return 130
    if runs:
        from pebench.benchmark.report import print_results

        print_results(runs, console)
    return 0


if __name__ == "__main__":
    sys.exit(main())
