"""Typed run configuration; YAML and command-line values are validated into these by
jsonargparse (see :mod:`pebench.benchmark.cli`)."""

from __future__ import annotations

from collections.abc import Callable
from dataclasses import dataclass, field
from pathlib import Path

from pebench.benchmark.settings import ModelConfig, OptimConfig, Schedule, TrainConfig
from pebench.encodings.base import ModelDims, PositionalEncoding
from pebench.tasks.base import Task

__all__ = ["EncodingFactory", "ModelConfig", "OptimConfig", "RunSpec", "Schedule", "TrainConfig"]

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
