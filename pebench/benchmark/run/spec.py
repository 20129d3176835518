"""Run configurations: the jsonargparse parser of one run (or one comparison) and its
conversion into a :class:`RunSpec`.

Types come from the signatures in :mod:`pebench.benchmark.run.spec`, the task classes and the
encoding classes; registered names (``rope``) are replaced by the dotted class paths
jsonargparse resolves. Used by the CLI and by sweeps, which build one run per trial.
"""

from __future__ import annotations

import functools
import inspect
import re
from collections.abc import Callable, Sequence
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

import yaml
from jsonargparse import ArgumentError, ArgumentParser, Namespace

from pebench import encodings, tasks
from pebench.benchmark.run.parser import one_line, read_config, run_parser
from pebench.benchmark.run.settings import ModelConfig, OptimConfig, TrainConfig
from pebench.encodings.base import ModelDims, PositionalEncoding
from pebench.errors import PebenchError
from pebench.registry import dotted_path
from pebench.tasks.base import Task

#: An encoding class (or a partial with its options bound) still waiting for model sizes.
EncodingFactory = Callable[[ModelDims], PositionalEncoding]


@dataclass
class RunSpec:
    """Everything one training run needs, already instantiated."""

    task: Task
    encoding: EncodingFactory
    model: ModelConfig = field(default_factory=ModelConfig)
    optim: OptimConfig = field(default_factory=OptimConfig)
    train: TrainConfig = field(default_factory=TrainConfig)
    seed: int = 0
    output_dir: Path = Path("runs/run")
    #: replace results already in ``output_dir`` instead of refusing to
    overwrite: bool = False
    #: continue an interrupted run in ``output_dir`` from its last checkpoint
    resume: bool = False
    #: the resolved configuration as YAML, saved with the run
    config_yaml: str | None = None
    #: the metric the run is selected on (a sweep's; default: the task's monitor), for the
    #: leaderboard columns its record declares
    selected_on: str | None = None


#: configuration keys whose values name a plug-in, and how to resolve that name
PLUGIN_KEYS: dict[str, Callable[[str], type]] = {
    "task": tasks.get,
    "encoding": encodings.get,
    "encodings": encodings.get,
}


def normalize_plugin(key: str, value: Any) -> Any:
    """Replace registered names in a task/encoding value by dotted class paths."""
    if isinstance(value, list):
        return [normalize_plugin(key, item) for item in value]
    if isinstance(value, dict) and isinstance(value.get("class_path"), str):
        return {**value, "class_path": normalize_plugin(key, value["class_path"])}
    if isinstance(value, str):
        return dotted_path(PLUGIN_KEYS[key](value))
    return value


def load_config(path: str) -> str:
    """Read a YAML config file, with names resolved, as text for jsonargparse."""
    return yaml.safe_dump(normalize_config(read_config(path)), sort_keys=False)


def normalize_config(doc: dict[str, Any]) -> dict[str, Any]:
    """A copy of a configuration mapping with registered names replaced by dotted paths."""
    return {
        key: normalize_plugin(key, value) if key in PLUGIN_KEYS else value
        for key, value in doc.items()
    }


@functools.cache
def build_parser(command: str) -> ArgumentParser:
    """The jsonargparse parser of ``pebench train`` or ``pebench compare``, plug-ins typed by
    their classes; built once per process (a sweep's checks and trials parse hundreds of run
    configurations, and building the parser took most of that time)."""
    return run_parser(command, Task, EncodingFactory)


#: what jsonargparse says about an unknown option of a plug-in (class path before or after)
_UNKNOWN_OPTION = re.compile(r"Parser key \"(\w+)\".*Option '(\w+)' is not accepted", re.S)
_CLASS_PATH = re.compile(r"class_path ?=? ?'([\w.]+)'")


def parse(parser: ArgumentParser, argv: Sequence[str] | dict[str, Any]) -> Namespace:
    """Parse already preprocessed arguments (or a configuration mapping, as a YAML file
    holds it), turning parser errors into one-line messages."""
    try:
        if isinstance(argv, dict):
            return parser.parse_object(argv)
        return parser.parse_args(list(argv))
    except ArgumentError as exc:
        text = str(exc)
        unknown = _UNKNOWN_OPTION.search(text)
        class_path_match = _CLASS_PATH.search(text)
        if unknown and class_path_match:
            key, option = unknown.groups()
            class_path = class_path_match.group(1)
            cls = PLUGIN_KEYS[key](class_path)
            valid = [p for p in list(inspect.signature(cls.__init__).parameters)[1:] if p != "dims"]
            raise PebenchError(
                f"{key} {plugin_name(key, class_path)!r} has no option {option!r}; "
                f"its options: {', '.join(valid) or 'none'}"
            ) from None
        raise one_line(exc, parser.prog) from None


def plugin_name(key: str, class_path: str) -> str:
    """The registered name of a task or encoding class path (its class name if it has none)."""
    cls = PLUGIN_KEYS[key](class_path)
    return cls.__dict__.get("name") or cls.__name__


def run_spec(
    parser: ArgumentParser, cfg: Namespace, output_dir: Path, dump: bool = True
) -> RunSpec:
    """The run ``cfg`` describes, its classes instantiated; ``dump=False`` skips resolving
    the configuration as YAML (a third of the time; a check that writes nothing)."""
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
        resume=init.resume,
        config_yaml=parser.dump(cfg) if dump else None,
    )


def run_spec_from_dict(
    doc: dict[str, Any], output_dir: Path, overwrite: bool = False, dump: bool = True
) -> tuple[RunSpec, str]:
    """The RunSpec of a run configuration given as a mapping (as in a ``train`` YAML file),
    and that configuration resolved as YAML (empty with ``dump=False``)."""
    parser = build_parser("train")
    cfg = parse(parser, normalize_config(doc))
    cfg.overwrite = overwrite
    spec = run_spec(parser, cfg, output_dir, dump)
    return spec, spec.config_yaml or ""
