"""Training steps never wait for the device: no value is read back to the host per step (on a
GPU each read is a synchronisation that stops the CPU from queueing the next step), and a
loss that turns NaN is still caught, named by its step, before anything is saved."""

from __future__ import annotations

import dataclasses
import traceback
from pathlib import Path
from typing import Any

import pytest
import torch
from lightning.pytorch import Callback
from torch import Tensor
from torch.overrides import TorchFunctionMode

from pebench import encodings
from pebench.benchmark.run import module as module_file
from pebench.benchmark.run.record import CHECKPOINT, METRICS_FILE
from pebench.benchmark.run.spec import TrainConfig
from pebench.benchmark.run.train import train
from pebench.encodings.base import PositionalEncoding
from pebench.errors import DivergedError
from tests.specs import copy_spec

#: the tensor methods that copy a value to the host (a device sync on a GPU)
READS = {
    Tensor.item, Tensor.tolist, Tensor.numpy, Tensor.__bool__, Tensor.__int__,
    Tensor.__float__, Tensor.__index__, Tensor.nonzero, torch.nonzero,
}  # fmt: skip


class HostReads(TorchFunctionMode):
    """Records where a tensor's value is read back, except in data loading, whose batches are
    built on the host by design."""

    def __init__(self) -> None:
        super().__init__()
        self.reads: list[str] = []

    def __torch_function__(self, func: Any, types: Any, args: Any = (), kwargs: Any = None):
        if func in READS:
            stack = traceback.extract_stack()[:-1]
            if not any("torch/utils/data" in frame.filename for frame in stack):
                frame = stack[-1]
                self.reads.append(f"{func.__name__} at {frame.filename}:{frame.lineno}")
        return func(*args, **(kwargs or {}))


class WatchSteps(Callback):
    """Watches the host reads from the start of step ``first`` to the start of step ``last``
    (whole steps: forward, backward, optimiser, Lightning's per-step logging)."""

    def __init__(self, first: int, last: int) -> None:
        self.first, self.last, self.mode = first, last, HostReads()

    def on_train_batch_start(self, trainer: Any, pl_module: Any, batch: Any, idx: int) -> None:
        if trainer.global_step == self.first:
            self.mode.__enter__()
        elif trainer.global_step == self.last:
            self.mode.__exit__(None, None, None)


#: FIRE compares the largest position with its learned threshold L every forward: a read
SYNC_FREE = sorted(set(encodings.available()) - {"fire"})


@pytest.mark.parametrize("encoding", SYNC_FREE)
def test_training_steps_read_nothing_back_from_the_device(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch, encoding: str
) -> None:
    # the fused AdamW a GPU uses (CPU's default optimiser reads its step counts on the host)
    monkeypatch.setattr(module_file, "fused_adamw", lambda device: True)
    spec = copy_spec(tmp_path, "cpu")
    spec = dataclasses.replace(
        spec, encoding=encodings.get(encoding),
        train=dataclasses.replace(spec.train, max_steps=6),
    )  # fmt: skip
    watch = WatchSteps(2, 5)
    train(spec, [watch])
    assert watch.mode.reads == [], (
        "a training step reads a tensor's value back to the host (a GPU synchronisation); "
        "for positions' bounds use pebench.kernels.ranges"
    )


def test_batches_for_a_cpu_are_not_copied_into_pinned_memory() -> None:
    batch = {"inputs": torch.ones(2, 3), "lengths": [3, 3]}
    assert module_file.pinned(batch, torch.device("cpu")) is batch  # pinned on CUDA only


def test_the_loss_is_shown_only_where_a_progress_bar_shows_it(tmp_path: Path) -> None:
    seen: dict[str, Any] = {}

    class Shown(Callback):
        def on_train_end(self, trainer: Any, pl_module: Any) -> None:
            seen["pbar"] = dict(trainer.progress_bar_metrics)

    train(copy_spec(tmp_path / "quiet", "cpu"), [Shown()])
    assert "train/loss" not in seen["pbar"]
    shown = copy_spec(tmp_path / "shown", "cpu")
    train(dataclasses.replace(shown, train=dataclasses.replace(shown.train, progress=True)),
          [Shown()])  # fmt: skip
    assert "train/loss" in seen["pbar"]


class NaNFromStep3(PositionalEncoding):
    """Finite until training step 3, NaN from then on (stays out of the registry)."""

    steps = 0

    def embed(self, x: Tensor, positions: Tensor) -> Tensor:
        if not self.training:
            return x
        NaNFromStep3.steps += 1
        return x * float("nan") if NaNFromStep3.steps > 3 else x


@pytest.mark.parametrize("checkpoint_every", [5, 1000])
def test_a_nan_loss_fails_the_run_naming_its_step_and_saves_nothing(
    tmp_path: Path, checkpoint_every: int
) -> None:
    """Caught at the next check (a checkpoint, evaluation or the end of training), not the
    step itself: the step named is the first non-finite one all the same."""
    NaNFromStep3.steps = 0
    spec = copy_spec(tmp_path, "cpu")
    train_config = TrainConfig(
        progress=False, accelerator="cpu", batch_size=4, max_steps=8,
        checkpoint_every=checkpoint_every,
    )  # fmt: skip
    spec = dataclasses.replace(spec, encoding=NaNFromStep3, train=train_config)
    with pytest.raises(DivergedError, match=r"the loss is nan at step 3; lower the learning"):
        train(spec)
    assert not (spec.output_dir / METRICS_FILE).exists()
    assert not (spec.output_dir / CHECKPOINT).exists()


def test_eval_time_is_part_of_the_metrics(tmp_path: Path) -> None:
    metrics = train(copy_spec(tmp_path, "cpu")).as_json()
    assert 0 < metrics["eval_time_s"] < metrics["wall_time_s"]
    assert metrics["train_step_time_s"] + metrics["eval_time_s"] < metrics["wall_time_s"]
