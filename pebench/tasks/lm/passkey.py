"""Passkey retrieval (Mohtashami & Jaggi 2023, "Landmark Attention"): a key hidden at a
controlled depth in filler, recalled after a query at the end. Recency-biased encodings fail
it once the key lies farther back than they look, which a pure extrapolation score hides.

A causal decoder reads ``haystack <query>`` and must output the key. The haystack is ``n``
random filler tokens with ``<key> k_1 .. k_K`` inserted so that the marker starts at depth
d ∈ [0, 1] (0 = first token, 1 = last possible slot); the key digits are drawn afresh for
every example. Training draws n from ``train_lengths`` and d uniformly; evaluation decodes
greedily on a grid of ``eval_lengths`` × ``depths`` and scores whole-key exact match.
"""

from __future__ import annotations

from typing import Any

import torch
import torch.nn.functional as F
from lightning.pytorch import LightningDataModule
from torch import Tensor, nn
from torch.utils.data import DataLoader

from pebench.errors import PebenchError
from pebench.tasks.base import (
    Batch,
    Model,
    Task,
    TokenHead,
    greedy,
    position_limit,
    seeded_generator,
    step_stream,
)
from pebench.tasks.metrics import SummedMetric

PAD, KEY, QUERY = 0, 1, 2
FIRST_DIGIT, DIGITS = 3, 10
IGNORE = -100


class PasskeyGrid(SummedMetric):
    """Whole-key exact match per (haystack length, depth) cell; states are summed counts."""

    full_state_update = False

    def __init__(self, lengths: list[int], depths: list[float]) -> None:
        super().__init__()
        self.lengths, self.depths = list(lengths), list(depths)
        shape = (len(self.lengths), len(self.depths))
        self.add_state("correct", torch.zeros(shape, dtype=torch.long), dist_reduce_fx="sum")
        self.add_state("total", torch.zeros(shape, dtype=torch.long), dist_reduce_fx="sum")

    def update(self, length: int, depth: float, preds: Tensor, keys: Tensor) -> None:
        i, j = self.lengths.index(length), self.depths.index(depth)
        self.correct[i, j] += (preds == keys).all(-1).sum()
        self.total[i, j] += keys.shape[0]

    def compute(self) -> Tensor:
        """Accuracy per cell (NaN where nothing was evaluated)."""
        return self.correct.double() / self.total


class PasskeyDataModule(LightningDataModule):
    """An endless training stream and one fixed evaluation batch per (length, depth) cell."""

    def __init__(self, task: Passkey, batch_size: int, seed: int) -> None:
        super().__init__()
        self.task, self.batch_size, self.seed = task, batch_size, seed

    def train_dataloader(self) -> DataLoader:
        return step_stream(self, self.train_batch)

    def train_batch(self, step: int) -> dict[str, Tensor]:
        """Training batch ``step``: one length and a depth per row, from (seed, step)."""
        gen = seeded_generator(self.seed, 0, step)
        lo, hi = self.task.train_lengths
        n = int(torch.randint(lo, hi + 1, (1,), generator=gen))
        depths = torch.rand(self.batch_size, generator=gen)
        return self.task.make_batch(self.task.sample(self.batch_size, n, depths, gen))

    def val_dataloader(self) -> DataLoader:
        batches = []
        for n in self.task.eval_lengths:
            for j, depth in enumerate(self.task.depths):
                gen = seeded_generator(self.seed, 1, n, j)
                depths = torch.full((self.task.eval_samples,), depth)
                batch = self.task.make_batch(
                    self.task.sample(self.task.eval_samples, n, depths, gen)
                )
                batches.append({**batch, "length": n, "depth": depth})
        return DataLoader(batches, batch_size=None)


class Passkey(Task):
    """Recall a key hidden at a given depth in filler (Mohtashami & Jaggi 2023)."""

    name = "passkey"
    description = "retrieve a key hidden at a controlled depth in filler; accuracy per depth"
    monitor = "id_accuracy"

    def __init__(
        self,
        key_length: int = 5,
        filler_size: int = 16,
        train_lengths: tuple[int, int] = (16, 64),
        eval_lengths: list[int] | None = None,
        depths: list[float] | None = None,
        eval_samples: int = 16,
    ) -> None:
        """
        Args:
            key_length: digits in the key.
            filler_size: distinct filler tokens.
            train_lengths: inclusive range of haystack lengths (filler + key block) in training.
            eval_lengths: haystack lengths evaluated; default 32, 64, 128, 256.
            depths: key depths evaluated, in [0, 1]; default 0, 0.25, 0.5, 0.75, 1.
            eval_samples: examples per (length, depth) cell.
        """
        self.key_length, self.filler_size = key_length, filler_size
        self.train_lengths = tuple(train_lengths)
        self.eval_lengths = sorted(eval_lengths or [32, 64, 128, 256])
        self.depths = list(depths if depths is not None else [0.0, 0.25, 0.5, 0.75, 1.0])
        self.eval_samples = eval_samples
        shortest = min(self.train_lengths[0], *self.eval_lengths)
        if key_length < 1 or filler_size < 1 or eval_samples < 1:
            raise PebenchError("key_length, filler_size and eval_samples must be at least 1")
        if shortest < key_length + 2 or self.train_lengths[1] < self.train_lengths[0]:
            raise PebenchError(
                f"haystack lengths must be at least key_length + 2 = {key_length + 2} (the key "
                f"block and one filler token), and train_lengths a range [min, max]"
            )
        if any(not 0 <= d <= 1 for d in self.depths):
            raise PebenchError(f"depths must lie in [0, 1], got {self.depths}")

    @property
    def first_filler(self) -> int:
        return FIRST_DIGIT + DIGITS

    def sample(
        self, batch_size: int, n: int, depths: Tensor, generator: torch.Generator
    ) -> dict[str, Tensor]:
        """Haystacks (batch, n) with the key block starting at round(depth·(n − K − 1))."""
        k = self.key_length
        filler = (self.first_filler, self.first_filler + self.filler_size)
        haystack = torch.randint(*filler, (batch_size, n), generator=generator)
        digits = (FIRST_DIGIT, FIRST_DIGIT + DIGITS)
        keys = torch.randint(*digits, (batch_size, k), generator=generator)
        starts = (depths * (n - k - 1)).round().long()
        rows = torch.arange(batch_size)
        haystack[rows, starts] = KEY
        for i in range(k):
            haystack[rows, starts + 1 + i] = keys[:, i]
        return {"haystack": haystack, "key": keys}

    def make_batch(self, sample: dict[str, Tensor]) -> dict[str, Tensor]:
        """Decoder inputs ``haystack <query> k_1..k_{K−1}``, targets the key after the query."""
        haystack, keys = sample["haystack"], sample["key"]
        b, n = haystack.shape
        query = torch.full((b, 1), QUERY, dtype=haystack.dtype)
        sequence = torch.cat([haystack, query, keys], dim=1)
        inputs, targets = sequence[:, :-1], sequence[:, 1:].clone()
        targets[:, :n] = IGNORE
        return {"inputs": inputs, "targets": targets, "haystack": haystack, "key": keys}

    @property
    def causal(self) -> bool:
        return True

    @property
    def vocab_size(self) -> int:
        return self.first_filler + self.filler_size

    def summary_keys(self) -> set[str] | None:
        train_max = self.train_lengths[1]
        splits = {"id" if n <= train_max else "ood" for n in self.eval_lengths}
        return {f"{s}_accuracy" for s in splits}

    def build_head(self, d_model: int) -> nn.Module:
        return TokenHead(d_model, self.vocab_size)

    def datamodule(self, batch_size: int, seed: int) -> LightningDataModule:
        return PasskeyDataModule(self, batch_size, seed)

    def loss(self, model: Model, batch: Batch) -> Tensor:
        logits = model(batch["inputs"])
        return F.cross_entropy(
            logits.flatten(0, 1), batch["targets"].flatten(), ignore_index=IGNORE
        )

    def build_metric(self) -> PasskeyGrid:
        return PasskeyGrid(self.eval_lengths, self.depths)

    @torch.no_grad()
    def evaluate(self, model: Model, batch: Batch, metric: PasskeyGrid) -> None:
        haystack = batch["haystack"]
        limit = position_limit(model)
        if limit is not None and haystack.shape[1] + self.key_length > limit:
            return  # the cell stays unevaluated: not applicable (e.g. a short learned table)
        query = haystack.new_full((haystack.shape[0], 1), QUERY)
        preds = greedy(model, torch.cat([haystack, query], dim=1), self.key_length)
        metric.update(int(batch["length"]), float(batch["depth"]), preds, batch["key"])

    def results(self, metric: PasskeyGrid) -> dict[str, Any]:
        grid = metric.compute()  # NaN: cells the encoding cannot represent
        train_max = self.train_lengths[1]

        def value(t: Tensor) -> float | None:
            return None if t.isnan().all() else float(t.nanmean())

        per_length = {
            str(n): {
                "accuracy": value(grid[i]),
                "by_depth": {str(d): value(grid[i, j]) for j, d in enumerate(self.depths)},
            }
            for i, n in enumerate(self.eval_lengths)
        }
        summary: dict[str, float | None] = {}
        for split, chosen in (
            ("id", [i for i, n in enumerate(self.eval_lengths) if n <= train_max]),
            ("ood", [i for i, n in enumerate(self.eval_lengths) if n > train_max]),
        ):
            if chosen:
                summary[f"{split}_accuracy"] = value(grid[chosen])
        return {
            "summary": summary,
            "per_length": per_length,
            "train_max_length": train_max,
            "grid": {
                "lengths": self.eval_lengths,
                "depths": self.depths,
                "accuracy": [[None if v != v else v for v in row] for row in grid.tolist()],
            },
        }

    def count_tokens(self, batch: Batch) -> int:
        return batch["inputs"].numel()
