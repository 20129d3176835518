"""Test settings: every cache in a temp dir, nothing touches the network, tiny models."""

from __future__ import annotations

import os
import tempfile
from pathlib import Path

_CACHE = tempfile.mkdtemp(prefix="pebench-test-cache-")
for key, value in {
    "HF_HUB_OFFLINE": "1",
    "HF_DATASETS_OFFLINE": "1",
    "WANDB_MODE": "offline",
    "WANDB_DIR": os.path.join(_CACHE, "wandb"),
    "HF_HOME": os.path.join(_CACHE, "huggingface"),
    "MPLCONFIGDIR": os.path.join(_CACHE, "matplotlib"),
    "TORCHINDUCTOR_CACHE_DIR": os.path.join(_CACHE, "inductor"),
    # One CPU thread per process, for the tests and the sweep workers they start: the models
    # are tiny, and two threads on a machine whose other core is busy spin-wait for each
    # other (a fault test measured 634 s with two threads beside a sweep, 44 s with one).
    "PEBENCH_NUM_THREADS": "1",
}.items():
    os.environ.setdefault(key, value)

import pytest  # noqa: E402
import torch  # noqa: E402

from pebench.encodings.base import ModelDims  # noqa: E402

torch.set_num_threads(1)


def pytest_collection_modifyitems(config: pytest.Config, items: list[pytest.Item]) -> None:
    """``cuda`` tests are collected everywhere and skipped, with the reason, without a GPU."""
    if torch.cuda.is_available():
        return
    skip = pytest.mark.skip(reason="needs a CUDA GPU (torch.cuda.is_available() is False)")
    for item in items:
        if "cuda" in item.keywords:
            item.add_marker(skip)


@pytest.fixture
def fast_args() -> list[str]:
    """Command-line flags for a tiny, two-step run on CPU."""
    return [
        "--max-steps",
        "2",
        "--batch-size",
        "4",
        "--d-model",
        "16",
        "--layers",
        "1",
        "--heads",
        "2",
        "--train.progress",
        "false",
        "--train.accelerator",
        "cpu",
        "--task.train_lengths",
        "[1, 3]",
        "--task.eval_lengths",
        "[1, 4]",
    ]


@pytest.fixture
def dims() -> ModelDims:
    return ModelDims(d_model=32, num_heads=4, num_layers=2, causal=True)


@pytest.fixture
def data_dir() -> Path:
    """The shared real datasets (``$PEBENCH_DATA_DIR``, default ``../shared/data``); tests
    that need them skip with the reason when they are absent."""
    path = Path(os.environ.get("PEBENCH_DATA_DIR", Path(__file__).parents[2] / "shared" / "data"))
    if not path.is_dir():
        pytest.skip(f"shared datasets not found at {path}; set PEBENCH_DATA_DIR")
    return path
