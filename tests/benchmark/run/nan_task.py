"""A copy task whose loss turns NaN on the second process of a DDP run from step 3 (loaded by
dotted path in tests/benchmark/run/test_ddp.py)."""

from __future__ import annotations

import torch
from torch import Tensor

from pebench.tasks.synthetic.copy import Copy


class NaNOnSecondProcess(Copy):
    """Copy, with a NaN loss on global rank 1 from training step 3 on."""

    def loss(self, model, batch) -> Tensor:  # noqa: ANN001 - the task interface's arguments
        loss = super().loss(model, batch)
        if model.trainer.global_rank == 1 and model.global_step >= 3:
            return loss * torch.nan
        return loss
