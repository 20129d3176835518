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
import re
import sys
from collections.abc import Callable, Sequence
from pathlib import Path
from typing import Any

import yaml
from jsonargparse import ActionConfigFile, ActionYesNo, ArgumentError, ArgumentParser, Namespace
from rich.console import Console
from rich.markup import escape
from rich.table import Table

from pebench import encodings, tasks
from pebench.benchmark.config import (
    EncodingFactory,
    ModelConfig,
    OptimConfig,
    RunSpec,
    TrainConfig,
)
from pebench.encodings.base import PositionalEncoding
from pebench.errors import PebenchError
from pebench.registry import dotted_path
from pebench.tasks.base import Task

#: short flag → the jsonargparse key it stands for
ALIASES = {
    "--max-steps": "--train.max_steps",
    "--batch-size": "--train.batch_size",
    "--eval-every": "--train.eval_every",
    "--output-dir": "--output_dir",
    "--d-model": "--model.d_model",
    "--layers": "--model.num_layers",
    "--heads": "--model.num_heads",
    "--lr": "--optim.lr",
    "--formulation": "--task.formulation",
}
#: configuration keys whose values name a plug-in, and how to resolve that name
PLUGIN_KEYS: dict[str, Callable[[str], type]] = {
    "task": tasks.get,
    "encoding": encodings.get,
    "encodings": encodings.get,
}


def _normalize_plugin(key: str, value: Any) -> Any:
    """Replace registered names in a task/encoding value by dotted class paths."""
    if isinstance(value, list):
        return [_normalize_plugin(key, item) for item in value]
    if isinstance(value, dict) and isinstance(value.get("class_path"), str):
        return {**value, "class_path": _normalize_plugin(key, value["class_path"])}
    if isinstance(value, str):
        return dotted_path(PLUGIN_KEYS[key](value))
    return value


def _load_config(path: str) -> str:
    """Read a YAML config file, with names resolved, as text for jsonargparse."""
    file = Path(path)
    if not file.is_file():
        raise PebenchError(f"config file {path} does not exist; check the path given to --config")
    try:
        doc = yaml.safe_load(file.read_text())
    except yaml.YAMLError as exc:
        mark = getattr(exc, "problem_mark", None)
        where = f"{path}:{mark.line + 1}" if mark else path
        raise PebenchError(f"{where}: not valid YAML ({getattr(exc, 'problem', exc)})") from None
    if doc is None:
        doc = {}
    if not isinstance(doc, dict):
        raise PebenchError(f"{path}: a config file must be a YAML mapping of keys to values")
    for key in PLUGIN_KEYS.keys() & doc.keys():
        doc[key] = _normalize_plugin(key, doc[key])
    return yaml.safe_dump(doc, sort_keys=False)


def preprocess(argv: Sequence[str]) -> list[str]:
    """Expand short flags and registered names into what jsonargparse understands."""
    tokens: list[str] = []
    for arg in argv:
        if arg.startswith("--") and "=" in arg:
            tokens.extend(arg.split("=", 1))
        else:
            tokens.append(arg)
    out: list[str] = []
    i = 0
    while i < len(tokens):
        flag = ALIASES.get(tokens[i], tokens[i])
        i += 1
        key = flag[2:]
        if key in PLUGIN_KEYS or key == "config":
            values = []
            while i < len(tokens) and not tokens[i].startswith("--"):
                values.append(tokens[i])
                i += 1
            if not values:
                raise PebenchError(f"{flag} needs a value")
            if key == "config":
                out.extend(item for path in values for item in ("--config", _load_config(path)))
                continue
            parsed = [yaml.safe_load(v) if v.lstrip().startswith(("{", "[")) else v for v in values]
            value = parsed if key == "encodings" else parsed[0]
            if key != "encodings" and len(parsed) > 1:
                raise PebenchError(f"{flag} takes one value, got {len(parsed)}: {' '.join(values)}")
            value = _normalize_plugin(key, value)
            out.extend([flag, value if isinstance(value, str) else json.dumps(value)])
        else:
            out.append(flag)
    return out


def build_parser(command: str) -> ArgumentParser:
    """The jsonargparse parser of ``pebench train`` or ``pebench compare``."""
    parser = ArgumentParser(
        prog=f"pebench {command}",
        exit_on_error=False,
        description=(
            "Train one encoding on one task."
            if command == "train"
            else "Train several encodings on one task with the same settings and compare them."
        ),
    )
    parser.add_argument("--config", action=ActionConfigFile, help="YAML configuration file")
    parser.add_argument("--task", type=Task, required=True, help="task name or dotted path")
    if command == "train":
        parser.add_argument(
            "--encoding", type=EncodingFactory, required=True, help="encoding name or dotted path"
        )
    else:
        parser.add_argument(
            "--encodings", type=list[EncodingFactory], required=True, help="encodings to compare"
        )
    parser.add_argument("--model", type=ModelConfig, default=ModelConfig())
    parser.add_argument("--optim", type=OptimConfig, default=OptimConfig())
    parser.add_argument("--train", type=TrainConfig, default=TrainConfig())
    parser.add_argument("--seed", type=int, default=0)
    parser.add_argument(
        "--output_dir", type=str | None, default=None, help="where results go (default runs/...)"
    )
    parser.add_argument(
        "--overwrite", action=ActionYesNo, default=False, help="replace earlier results"
    )
    return parser


_UNKNOWN_OPTION = re.compile(
    r"Parser key \"(\w+)\".*Option '(\w+)' is not accepted.*class_path='([\w.]+)'", re.S
)


def _parse(parser: ArgumentParser, argv: Sequence[str]) -> Namespace:
    try:
        return parser.parse_args(preprocess(argv))
    except ArgumentError as exc:
        text = str(exc)
        unknown = _UNKNOWN_OPTION.search(text)
        if unknown:
            key, option, class_path = unknown.groups()
            cls = PLUGIN_KEYS[key](class_path)
            valid = [p for p in list(inspect.signature(cls.__init__).parameters)[1:] if p != "dims"]
            raise PebenchError(
                f"{key} {_plugin_name(key, class_path)!r} has no option {option!r}; "
                f"its options: {', '.join(valid) or 'none'}"
            ) from None
        lines = [line.strip() for line in text.splitlines() if line.strip()]
        raise PebenchError(f"{' '.join(lines)} (see `{parser.prog} --help`)") from None


def _plugin_name(key: str, class_path: str) -> str:
    """The registered name of a task or encoding class path (its class name if it has none)."""
    cls = PLUGIN_KEYS[key](class_path)
    return cls.__dict__.get("name") or cls.__name__


def _run_spec(parser: ArgumentParser, cfg: Namespace, output_dir: Path) -> RunSpec:
    cfg.output_dir = str(output_dir)
    init = parser.instantiate(cfg)
    return RunSpec(
        task=init.task,
        encoding=init.encoding,
        model=init.model,
        optim=init.optim,
        train=init.train,
        seed=init.seed,
        output_dir=output_dir,
        overwrite=init.overwrite,
        config_yaml=parser.dump(cfg),
    )


def cmd_train(argv: Sequence[str], console: Console) -> list[dict[str, Any]]:
    from pebench.benchmark.train import train

    parser = build_parser("train")
    cfg = _parse(parser, argv)
    task_name = _plugin_name("task", cfg.task.class_path)
    encoding_name = _plugin_name("encoding", cfg.encoding.class_path)
    default = Path("runs") / f"{task_name}-{encoding_name}-seed{cfg.seed}"
    spec = _run_spec(parser, cfg, Path(cfg.output_dir) if cfg.output_dir else default)
    metrics = train(spec)
    console.print(f"results written to {spec.output_dir}")
    return [metrics]


def cmd_compare(argv: Sequence[str], console: Console) -> list[dict[str, Any]]:
    from pebench.benchmark.train import train

    parser, run_parser = build_parser("compare"), build_parser("train")
    cfg = _parse(parser, argv)
    task_name = _plugin_name("task", cfg.task.class_path)
    root = Path(cfg.output_dir or Path("runs") / f"compare-{task_name}")
    names = [_plugin_name("encoding", enc.class_path) for enc in cfg.encodings]
    if len(set(names)) != len(names):
        raise PebenchError(f"--encodings lists an encoding twice: {', '.join(names)}")
    specs = []
    for name, encoding in zip(names, cfg.encodings, strict=True):
        run_cfg = cfg.clone()
        del run_cfg["encodings"]
        run_cfg.encoding = encoding
        specs.append(_run_spec(run_parser, run_cfg, root / name))
    runs = []
    for spec, name in zip(specs, names, strict=True):
        console.rule(f"[bold]{name}")
        runs.append(train(spec))
    (root / "comparison.json").write_text(json.dumps(runs, indent=2) + "\n")
    console.print(f"results written to {root}")
    return runs


def cmd_list(argv: Sequence[str], console: Console) -> list[dict[str, Any]]:
    if argv:
        raise PebenchError(f"`pebench list` takes no arguments, got {' '.join(argv)}")
    enc_table = Table(title="Encodings (--encoding NAME)")
    enc_table.add_column("name", style="bold")
    enc_table.add_column("description")
    for name, cls in encodings.available().items():
        enc_table.add_row(name, escape(_first_line(cls, PositionalEncoding)))
    task_table = Table(title="Tasks (--task NAME)")
    task_table.add_column("name", style="bold")
    task_table.add_column("description")
    for name, cls in tasks.available().items():
        task_table.add_row(name, escape(cls.description or _first_line(cls, Task)))
    console.print(enc_table, task_table)
    return []


def _first_line(cls: type, base: type) -> str:
    doc = cls.__doc__ if cls.__doc__ and cls.__doc__ != base.__doc__ else ""
    return doc.strip().splitlines()[0] if doc.strip() else ""


COMMANDS = {"train": cmd_train, "compare": cmd_compare, "list": cmd_list}
USAGE = (
    "usage: pebench {train,compare,list} [--help] [--debug] ...\n"
    "  train    train one encoding on one task (pebench train --task copy --encoding rope)\n"
    "  compare  train several encodings with the same settings and print a comparison\n"
    "  list     list the available encodings and tasks"
)


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
        print(f"pebench: error: {exc}", file=sys.stderr)
        return 2
    except KeyboardInterrupt:
        print("pebench: interrupted", file=sys.stderr)
        return 130
    if runs:
        from pebench.benchmark.report import print_results

        print_results(runs, console)
    return 0


if __name__ == "__main__":
    sys.exit(main())
