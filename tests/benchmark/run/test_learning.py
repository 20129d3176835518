"""The defaults must learn the task, not just run (slow: about a minute per encoding)."""

from __future__ import annotations

from pathlib import Path

import pytest
import yaml

from pebench import encodings, tasks
from pebench.benchmark.run.spec import ModelConfig, OptimConfig, RunSpec, TrainConfig
from pebench.benchmark.run.train import train

DEMO = yaml.safe_load((Path(__file__).parents[3] / "configs" / "demo.yaml").read_text())


@pytest.mark.slow
@pytest.mark.parametrize("encoding", ["rope", "sinusoidal", "alibi"])
def test_demo_settings_learn_copy(tmp_path: Path, encoding: str) -> None:
    metrics = train(
        RunSpec(
            task=tasks.get(DEMO["task"]["class_path"])(**DEMO["task"]["init_args"]),
            encoding=encodings.get(encoding),
            model=ModelConfig(**DEMO["model"]),
            optim=OptimConfig(**DEMO["optim"]),
            train=TrainConfig(**DEMO["train"], progress=False, accelerator="cpu"),
            seed=DEMO["seed"],
            output_dir=tmp_path,
        )
    )
    assert metrics.summary["id_exact_match"] >= 0.95
