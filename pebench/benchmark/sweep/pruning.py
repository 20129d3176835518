"""Pruning of unpromising sweep trials, fed by the validation metric.

Optuna's ``PyTorchLightningPruningCallback`` reports at ``step=epoch``. pebench trains by
steps on streams where the epoch never advances, so every report would land on step 0 and
Optuna would ignore all but the first: nothing would ever be pruned. This subclass keys each
report by the training step instead (DDP runs keep the parent's epoch-keyed path, which
needs an RDB storage).
"""

from __future__ import annotations

import optuna
from lightning.pytorch import LightningModule, Trainer
from optuna_integration import PyTorchLightningPruningCallback


class StepPruningCallback(PyTorchLightningPruningCallback):
    """Report ``monitor`` to the trial after every validation, keyed by global step."""

    def on_validation_end(self, trainer: Trainer, pl_module: LightningModule) -> None:
        if self.is_ddp_backend:
            super().on_validation_end(trainer, pl_module)
            return
        if trainer.sanity_checking:
            return
        score = trainer.callback_metrics.get(self.monitor)
        if score is None:
            raise KeyError(f"metric {self.monitor!r} was not logged during validation")
        step = trainer.global_step
        self._trial.report(score.item(), step=step)
        if self._trial.should_prune():
            raise optuna.TrialPruned(f"pruned at step {step}: {self.monitor}={score.item():.4f}")
