"""The parser of ``pebench train`` and ``pebench compare``, and a first, torch-free pass over
their arguments.

The full parser types ``--task`` and ``--encoding`` by their classes, so building it imports
torch and Lightning (about 5 s here). This pass uses the generic settings alone
(:mod:`pebench.benchmark.run.settings`) and the names :mod:`pebench.catalog` reads from the
sources: ``--help`` and mistakes in sizes, optimiser, training options or plug-in names
answer in a fraction of a second. Options of a task or an encoding (``--task.train-lengths``)
are left to the full parser, which runs next and checks everything again.
"""

from __future__ import annotations

import json
import re
from collections.abc import Sequence
from pathlib import Path
from typing import Any

import yaml
from jsonargparse import ActionConfigFile, ActionYesNo, ArgumentError, ArgumentParser

from pebench.benchmark.run.settings import ModelConfig, OptimConfig, TrainConfig
from pebench.errors import PebenchError, yaml_problem
from pebench.registry import unknown_name

_LONG_OPTION = re.compile(r"(?<![\w-])--[A-Za-z][\w.]*")


def dashed(text: str) -> str:
    """``text`` with every long option's underscores written as dashes."""
    return _LONG_OPTION.sub(lambda m: m.group().replace("_", "-"), text)


def undashed(argv: Sequence[str]) -> list[str]:
    """Command-line arguments with long options in the parser's underscore spelling
    (``--model.d-model=64`` → ``--model.d_model=64``); values are left alone."""
    out = []
    for arg in argv:
        if arg.startswith("--"):
            name, sep, value = arg.partition("=")
            arg = "--" + name[2:].replace("-", "_") + sep + value
        out.append(arg)
    return out


def one_line(exc: ArgumentError, prog: str) -> PebenchError:
    """jsonargparse's error as the one line every command prints, with where help is."""
    lines = [line.strip() for line in str(exc).splitlines() if line.strip()]
    return PebenchError(f"{' '.join(lines)} (see `{prog} --help`)")


class PebenchParser(ArgumentParser):
    """A jsonargparse parser whose help and usage show long options with dashes."""

    def format_help(self) -> str:
        return dashed(super().format_help())

    def format_usage(self) -> str:
        return dashed(super().format_usage())

#: what --help says besides the options (short flags, and the flags the CLI handles itself)
ALSO = (
    "Short flags: --max-steps, --batch-size, --eval-every, --output-dir, --d-model, --layers, "
    "--heads, --lr, --formulation. Also: --wandb online|offline|disabled (default disabled; "
    "files under the output directory), --threads N (CPU threads; default one for a small "
    "model, else the free cores), --debug (full traceback on an error)."
)
DESCRIPTIONS = {
    "train": "Train one encoding on one task. " + ALSO,
    "compare": "Train several encodings on one task with the same settings and compare them. "
    + ALSO,
}
#: keys whose values name a plug-in, and the kind of plug-in they name
PLUGIN_KINDS = {"task": "task", "encoding": "encoding", "encodings": "encoding"}
PLUGIN_HELP = {
    "task": "task name or dotted path (`pebench list`); its options: --task.OPTION VALUE, "
    "listed by --task.help NAME",
    "encoding": "encoding name or dotted path (`pebench list`); its options: "
    "--encoding.OPTION VALUE, listed by --encoding.help NAME",
    "encodings": "encodings to compare (names or dotted paths)",
}


def run_parser(command: str, task_type: Any, encoding_type: Any) -> PebenchParser:
    """The parser of ``pebench train``/``compare``; the plug-in types decide how far it checks
    (the classes: everything; names: the generic options only)."""
    parser = PebenchParser(
        prog=f"pebench {command}", description=DESCRIPTIONS[command], exit_on_error=False
    )
    parser.add_argument("--config", action=ActionConfigFile, help="YAML configuration file")
    parser.add_argument("--task", type=task_type, required=True, help=PLUGIN_HELP["task"])
    if command == "train":
        parser.add_argument(
            "--encoding", type=encoding_type, required=True, help=PLUGIN_HELP["encoding"]
        )
    else:
        parser.add_argument(
            "--encodings", type=list[encoding_type], required=True, help=PLUGIN_HELP["encodings"]
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
    parser.add_argument(
        "--resume",
        action=ActionYesNo,
        default=False,
        help="continue an interrupted run from its output directory's last checkpoint",
    )
    return parser


def read_config(path: str) -> dict[str, Any]:
    """A YAML configuration file as a mapping, or a one-line error naming the problem."""
    file = Path(path)
    if not file.is_file():
        raise PebenchError(f"config file {path} does not exist; check the path given to --config")
    try:
        doc = yaml.safe_load(file.read_text())
    except yaml.YAMLError as exc:
        raise yaml_problem(path, exc) from None
    if doc is None:
        return {}
    if not isinstance(doc, dict):
        raise PebenchError(f"{path}: a config file must be a YAML mapping of keys to values")
    return doc


def _plugin_option(token: str) -> bool:
    """``--task.X``/``--encoding.X``/``--encodings.X`` (but not their ``.help``)."""
    head, dot, rest = token[2:].partition(".")
    return token.startswith("--") and bool(dot) and head in PLUGIN_KINDS and rest != "help"


def option_values(tokens: Sequence[str], i: int) -> tuple[list[str], int]:
    """The words from ``tokens[i]`` up to the next option, and the index after them."""
    end = i
    while end < len(tokens) and not tokens[end].startswith("--"):
        end += 1
    return list(tokens[i:end]), end


def plugin_value(flag: str, values: Sequence[str]) -> Any:
    """What ``--task``/``--encoding`` (one) or ``--encodings`` (a list) was given: names, or
    inline YAML mappings and lists."""
    if not values:
        raise PebenchError(f"{flag} needs a value")
    parsed = [yaml.safe_load(v) if v.lstrip().startswith(("{", "[")) else v for v in values]
    if flag == "--encodings":
        return parsed
    if len(parsed) > 1:
        raise PebenchError(f"{flag} takes one value, got {len(parsed)}: {' '.join(values)}")
    return parsed[0]


def generic_arguments(tokens: Sequence[str]) -> tuple[list[str], list[tuple[str, Any]]]:
    """The arguments without the options of a task or an encoding (and their values), with
    config files read here and their plug-in options dropped likewise; and every (key,
    value) that names a plug-in, from the command line and the config files."""
    out: list[str] = []
    named: list[tuple[str, Any]] = []
    i = 0
    while i < len(tokens):
        token = tokens[i]
        i += 1
        if _plugin_option(token):
            i = option_values(tokens, i)[1]
        elif token[2:] in PLUGIN_KINDS:
            values, i = option_values(tokens, i)
            value = plugin_value(token, values)
            named.append((token[2:], value))
            out += [token, value if isinstance(value, str) else json.dumps(value)]
        elif token == "--config":
            paths, i = option_values(tokens, i)
            if not paths:
                raise PebenchError(f"{token} needs a value")
            for path in paths:
                doc = read_config(path)
                named += [(key, doc[key]) for key in PLUGIN_KINDS if key in doc]
                out += ["--config", yaml.safe_dump(_without_plugin_options(doc), sort_keys=False)]
        else:
            out.append(token)
    return out, named


def _without_plugin_options(doc: dict[str, Any]) -> dict[str, Any]:
    """A config mapping whose task/encoding entries keep their names only: their init
    arguments are the full parser's to check."""
    keep = dict(doc)
    for key in PLUGIN_KINDS:
        value = keep.get(key)
        if isinstance(value, dict) and "class_path" in value:
            keep[key] = {"class_path": value["class_path"]}
        elif isinstance(value, list):
            keep[key] = [
                {"class_path": v["class_path"]} if isinstance(v, dict) and "class_path" in v else v
                for v in value
            ]
    return keep


def check_names(named: Sequence[tuple[str, Any]]) -> None:
    """Refuse a task or encoding name that no built-in or plug-in has (dotted paths are the
    full parser's to import)."""
    from pebench.catalog import listing

    known_encodings, known_tasks = listing()
    known = {"task": known_tasks, "encoding": known_encodings}
    for key, values in named:
        kind = PLUGIN_KINDS[key]
        for value in values if isinstance(values, list) else [values]:
            name = value.get("class_path") if isinstance(value, dict) else value
            if isinstance(name, str) and "." not in name and name not in known[kind]:
                raise unknown_name(kind, name, list(known[kind]))


def check_options(tokens: Sequence[str], named: Sequence[tuple[str, Any]]) -> None:
    """Refuse ``--encoding.X``/``--task.X`` that the built-in plug-in named does not take,
    with the message the full parser gives, from the sources (no torch)."""
    from pebench.catalog import options

    chosen: dict[str, str] = {}
    for key, value in named:
        name = value.get("class_path") if isinstance(value, dict) else value
        if key in ("task", "encoding") and isinstance(name, str):
            chosen[key] = name
    for token in tokens:
        if not _plugin_option(token):
            continue
        key, _, option = token[2:].partition(".")
        name = chosen.get(key)
        option = option.replace("-", "_")
        if name is None or "." in name or "." in option:
            continue
        valid = options(f"{key}s", name)
        if valid is not None and option not in valid:
            raise PebenchError(
                f"{key} {name!r} has no option {option!r}; its options: "
                f"{', '.join(valid) or 'none'}"
            )


def check_data_files(tokens: Sequence[str], named: Sequence[tuple[str, Any]]) -> None:
    """Refuse a local data file (``--task.train_file`` and the like, on the command line or in
    a config file's task) that does not exist where the task would read it."""
    from pebench.data_files import FILE_OPTIONS, data_path, missing_file_message

    given: dict[str, Any] = {}
    for key, value in named:
        if key == "task" and isinstance(value, dict):
            given.update(value.get("init_args") or {})
    for i, token in enumerate(tokens):
        head, _, option = token[2:].partition(".")
        if token.startswith("--") and head == "task" and i + 1 < len(tokens):
            given[option.replace("-", "_")] = tokens[i + 1]
    data_dir = given.get("data_dir")
    for option in FILE_OPTIONS:
        value = given.get(option)
        if isinstance(value, str) and value and not value.startswith("--"):
            path = data_path(value, data_dir if isinstance(data_dir, str) else None)
            if not path.is_file():
                raise PebenchError(missing_file_message(path, option))


def precheck(command: str, tokens: Sequence[str]) -> None:
    """Answer ``--help`` and refuse mistakes in the generic options before the training
    stack loads; ``tokens`` are arguments with short flags already expanded. Help for one
    plug-in (``--task.help NAME``) and ``--print-config`` need the classes, so they are left
    to the full parser."""
    if "--print-config" in tokens or any(
        t.split("=")[0].endswith(".help") for t in tokens if t.startswith("--")
    ):
        return  # the full parser prints the full configuration
    arguments, named = generic_arguments(tokens)
    check_names(named)  # a misspelt name is the clearer message, so it goes first
    check_options(tokens, named)
    check_data_files(tokens, named)
    parser = run_parser(command, str | dict[str, Any], str | dict[str, Any])
    try:
        cfg = parser.parse_args(undashed(arguments))
    except ArgumentError as exc:
        raise one_line(exc, parser.prog) from None
    sections = {"model": ModelConfig, "optim": OptimConfig, "train": TrainConfig}
    for section, settings in sections.items():
        settings(**cfg[section].as_dict())  # the ranges (e.g. max_steps >= 1), still torch-free
    if cfg.get("output_dir") and not cfg.get("resume"):
        from pebench.benchmark.run.outputs import refuse_finished

        refuse_finished(Path(cfg.output_dir), bool(cfg.get("overwrite")))
