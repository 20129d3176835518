"""Small run specifications shared by test files (kept free of the sweep and W&B test
helpers, so the GPU tests import only what a GPU machine has)."""

from __future__ import annotations

from pathlib import Path
from typing import Any

from pebench import encodings, tasks
from pebench.benchmark.run.record import RunRecord
from pebench.benchmark.run.spec import ModelConfig, RunSpec, TrainConfig


def copy_spec(tmp_path: Path, accelerator: str) -> RunSpec:
    """A tiny copy run with ALiBi on ``accelerator``."""
    return RunSpec(
        task=tasks.get("copy")(train_lengths=(1, 3), eval_lengths=(1, 4)),
        encoding=encodings.get("alibi"),
        model=ModelConfig(d_model=16, num_layers=1, num_heads=2),
        train=TrainConfig(progress=False, accelerator=accelerator, batch_size=4, max_steps=3),
        output_dir=tmp_path / "run",
    )


def tiny_run(tmp_path: Path, task: Any, encoding: str, **model: Any) -> RunRecord:
    """Two training steps of a d_model 16, 1-layer model on ``task`` (an instance) on CPU,
    trained and evaluated in ``tmp_path/run``; ``model`` adds model settings (``abacus=5``)."""
    from pebench.benchmark.run.train import train

    return train(RunSpec(
        task=task,
        encoding=encodings.get(encoding),
        model=ModelConfig(d_model=16, num_layers=1, num_heads=2, **model),
        train=TrainConfig(max_steps=2, batch_size=8, progress=False, accelerator="cpu"),
        output_dir=tmp_path / "run",
    ))  # fmt: skip
