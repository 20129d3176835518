"""Small run specifications shared by test files (kept free of the sweep and W&B test
helpers, so the GPU tests import only what a GPU machine has)."""

from __future__ import annotations

from pathlib import Path

from pebench import encodings, tasks
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
