"""Where a run's time goes, measured by a Lightning callback: training steps, the time between
them (data loading and Lightning's bookkeeping), evaluation, and when the first step began.
It reads nothing back from the device: a step's time is when Lightning hands it back, as the
host sees it."""

from __future__ import annotations

import time
from typing import Any

from lightning.pytorch import LightningModule, Trainer
from lightning.pytorch.callbacks import Callback


class RunTimer(Callback):
    """Seconds spent in training steps, between them and in evaluation (validation and test
    loops); ``first_step_at`` (a ``time.perf_counter()`` value) and ``first_step`` (0, or the
    step a resumed run began at) of the first training step of this process."""

    def __init__(self) -> None:
        self.train_step_seconds = 0.0
        self.between_steps_seconds = 0.0
        self.eval_seconds = 0.0
        self.first_step_at: float | None = None
        self.first_step: int | None = None
        self._step_started = 0.0
        self._step_ended: float | None = None
        self._eval_started = 0.0

    def on_train_batch_start(
        self, trainer: Trainer, pl_module: LightningModule, batch: Any, batch_idx: int
    ) -> None:
        self._step_started = time.perf_counter()
        if self.first_step_at is None:
            self.first_step_at, self.first_step = self._step_started, trainer.global_step
        if self._step_ended is not None:
            self.between_steps_seconds += self._step_started - self._step_ended

    def on_train_batch_end(
        self, trainer: Trainer, pl_module: LightningModule, outputs: Any, batch: Any,
        batch_idx: int,
    ) -> None:  # fmt: skip
        self._step_ended = time.perf_counter()
        self.train_step_seconds += self._step_ended - self._step_started

    def on_validation_start(self, trainer: Trainer, pl_module: LightningModule) -> None:
        self._step_ended = None  # evaluation time is not data loading
        self._eval_started = time.perf_counter()

    def on_validation_end(self, trainer: Trainer, pl_module: LightningModule) -> None:
        self.eval_seconds += time.perf_counter() - self._eval_started

    def on_test_start(self, trainer: Trainer, pl_module: LightningModule) -> None:
        self._eval_started = time.perf_counter()

    def on_test_end(self, trainer: Trainer, pl_module: LightningModule) -> None:
        self.eval_seconds += time.perf_counter() - self._eval_started
