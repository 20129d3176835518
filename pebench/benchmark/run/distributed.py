"""One run across several processes (Lightning DDP, ``--train.devices N`` ×
``--train.num-nodes M``), with the same results as in one process.

* Training: batch ``s`` of the task's stream is the *global* batch; process ``r`` of ``W``
  trains on its rows ``r::W`` (``batch_size`` must divide among them), so DDP's averaged
  gradient is the one-process gradient of the same batch (exactly so when every shard holds
  as many loss tokens, e.g. one length per batch; see docs/cluster.md).
* Evaluation: process ``r`` evaluates batches ``r, r + W, …`` of the evaluation set, every
  batch exactly once and none repeated (Lightning's distributed sampler pads an uneven split
  with repeats, which would count samples twice); the task's metric states are summed
  across processes before they are read (:class:`pebench.tasks.metrics.SummedMetric`).
* Only the global rank 0 writes the run's directory.
"""

from __future__ import annotations

import itertools
from collections.abc import Iterator
from typing import Any

import torch
from lightning.pytorch import LightningDataModule
from torch.utils.data import DataLoader, IterableDataset

from pebench.errors import PebenchError


def shard_rows(batch: Any, rank: int, world: int, size: int) -> Any:
    """Rows ``rank::world`` of every tensor in ``batch`` whose first dimension is the batch
    (``size``); other values are kept."""
    if isinstance(batch, torch.Tensor):
        return batch[rank::world] if batch.ndim and batch.shape[0] == size else batch
    if isinstance(batch, dict):
        return {k: shard_rows(v, rank, world, size) for k, v in batch.items()}
    if isinstance(batch, (list, tuple)):
        return type(batch)(shard_rows(v, rank, world, size) for v in batch)
    return batch


def batch_rows(batch: Any) -> int:
    """The batch dimension of a batch: the first dimension of its first tensor."""
    if isinstance(batch, torch.Tensor):
        return int(batch.shape[0])
    values = batch.values() if isinstance(batch, dict) else batch
    return next(batch_rows(v) for v in values if isinstance(v, (torch.Tensor, dict, list, tuple)))


class _Shard(IterableDataset):
    """One process's share of a loader: every ``world``-th item from ``rank`` (``rows``:
    its rows of every batch instead)."""

    def __init__(self, loader: Any, rank: int, world: int, rows: bool) -> None:
        self.loader, self.rank, self.world, self.rows = loader, rank, world, rows

    def __iter__(self) -> Iterator[Any]:
        if not self.rows:
            yield from itertools.islice(self.loader, self.rank, None, self.world)
            return
        for batch in self.loader:
            size = batch_rows(batch)
            if size % self.world:
                raise PebenchError(
                    f"a batch of {size} rows cannot be split evenly among {self.world} "
                    f"processes; use a --train.batch-size divisible by --train.devices × "
                    f"--train.num-nodes"
                )
            yield shard_rows(batch, self.rank, self.world, size)


class ShardedData(LightningDataModule):
    """A task's data module, split among the run's processes as the module docstring says."""

    def __init__(self, inner: LightningDataModule) -> None:
        super().__init__()
        self.inner = inner

    def _shard(self, loader: Any, rows: bool) -> DataLoader:
        shard = _Shard(loader, self.trainer.global_rank, self.trainer.world_size, rows)
        return DataLoader(shard, batch_size=None)

    def setup(self, stage: str) -> None:
        """Lightning sets up the data module before it asks for a loader: the inner one sees
        the trainer from here on (a training stream starts at the trainer's step)."""
        self.inner.trainer = self.trainer
        self.inner.setup(stage)

    def train_dataloader(self) -> DataLoader:
        return self._shard(self.inner.train_dataloader(), rows=True)

    def val_dataloader(self) -> DataLoader:
        return self._shard(self.inner.val_dataloader(), rows=False)

    def test_dataloader(self) -> DataLoader:
        return self._shard(self.inner.test_dataloader(), rows=False)
