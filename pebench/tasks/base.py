"""The task interface: what a task supplies to pair with any encoding.

A task owns its data (a Lightning data module), the head on top of the backbone, the
training loss, and its evaluation metric. The generic training module in
:mod:`pebench.benchmark.run.module` calls only these methods, so a new task is one subclass in
one file.
"""

from __future__ import annotations

from abc import ABC, abstractmethod
from collections.abc import Callable, Iterator, Mapping
from pathlib import Path
from typing import Any, ClassVar

import torch
from lightning.pytorch import LightningDataModule
from torch import Tensor, nn
from torch.utils.data import DataLoader, IterableDataset
from torchmetrics import Metric

from pebench.backbone import recompute_decode
from pebench.errors import PebenchError
from pebench.tasks.columns import MetricColumn, length_columns, test_columns, validation_columns

Batch = Mapping[str, Tensor]
#: The model a task sees: ``model(tokens, padding_mask=None) -> logits``.
Model = Callable[..., Tensor]


def seeded_generator(*keys: int) -> torch.Generator:
    """A generator seeded from integer keys, e.g. (seed, split, step): data drawn from it
    depends on those keys only, so runs are reproducible and resume mid-stream."""
    seed = 0
    for key in keys:
        seed = (seed * 1_000_003 + key) % (2**63 - 1)
    return torch.Generator().manual_seed(seed)


class StepStream(IterableDataset):
    """An endless stream of training batches: batch ``s`` is ``batch_for(s)``, from
    ``start`` on, so a batch depends on its step alone and a resumed run continues the same
    stream."""

    def __init__(self, batch_for: Callable[[int], Any], start: int = 0) -> None:
        self.batch_for, self.start = batch_for, start

    def __iter__(self) -> Iterator[Any]:
        step = self.start
        while True:
            yield self.batch_for(step)
            step += 1


def step_stream(datamodule: LightningDataModule, batch_for: Callable[[int], Any]) -> DataLoader:
    """A training loader of :class:`StepStream` that starts at the trainer's step: a resumed
    run continues the stream where its checkpoint left it."""
    trainer = datamodule.trainer
    start = trainer.global_step if trainer is not None else 0
    return DataLoader(StepStream(batch_for, start), batch_size=None)


class GeneratedDataModule(LightningDataModule, ABC):
    """The data of a task generated on the fly: batch ``s`` of an endless training stream is
    ``train_batch(s)``, and the evaluation set is ``eval_batches()``, built once and kept."""

    def __init__(self, task: Task, batch_size: int, seed: int) -> None:
        super().__init__()
        self.task, self.batch_size, self.seed = task, batch_size, seed
        self._eval: list[Batch] | None = None

    def train_dataloader(self) -> DataLoader:
        return step_stream(self, self.train_batch)

    def val_dataloader(self) -> DataLoader:
        if self._eval is None:
            self._eval = list(self.eval_batches())
        return DataLoader(self._eval, batch_size=None)

    @abstractmethod
    def train_batch(self, step: int) -> Batch:
        """Training batch ``step``, a function of the seed and ``step`` alone."""

    @abstractmethod
    def eval_batches(self) -> Iterator[Batch]:
        """The evaluation batches, in order."""


def position_limit(model: Model) -> int | None:
    """The longest sequence ``model``'s encoding can represent (a learned table's size), or
    None when every length is defined; tasks report longer lengths as not applicable."""
    return getattr(getattr(model, "encoding", None), "max_positions", None)


@torch.no_grad()
def greedy(model: Model, prefix: Tensor, steps: int) -> Tensor:
    """``steps`` tokens greedily decoded after ``prefix`` (batch, n): the model's own
    ``greedy`` (which may use a key/value cache) when it has one, else one full forward pass
    per step."""
    if hasattr(model, "greedy"):
        return model.greedy(prefix, steps)
    return recompute_decode(model, prefix, steps)


class TokenHead(nn.Module):
    """A linear read-out at every position: (batch, length, d_model) → (batch, length, classes)."""

    def __init__(self, d_model: int, num_classes: int) -> None:
        super().__init__()
        self.proj = nn.Linear(d_model, num_classes)

    def forward(self, hidden: Tensor, padding_mask: Tensor | None = None) -> Tensor:
        return self.proj(hidden)


class Task(ABC):
    """Base class of every task; subclasses set ``name`` and ``description``."""

    name: ClassVar[str]
    description: ClassVar[str] = ""
    #: the summary metric that model selection optimizes (validation split only)
    monitor: ClassVar[str]
    #: whether a larger (``maximize``) or smaller (``minimize``) monitor is better
    monitor_direction: ClassVar[str] = "maximize"

    @property
    @abstractmethod
    def causal(self) -> bool:
        """Whether the backbone is a causal decoder (else a bidirectional encoder)."""

    @property
    @abstractmethod
    def vocab_size(self) -> int:
        """Number of input token ids."""

    @abstractmethod
    def build_head(self, d_model: int) -> nn.Module:
        """The output head put on the backbone's hidden states."""

    @abstractmethod
    def datamodule(self, batch_size: int, seed: int) -> LightningDataModule:
        """Training and evaluation data, generated or loaded deterministically from ``seed``."""

    @abstractmethod
    def loss(self, model: Model, batch: Batch) -> Tensor:
        """The training loss of ``model`` on ``batch``."""

    @abstractmethod
    def build_metric(self) -> Metric:
        """A fresh evaluation metric (its states must be sums so it is correct across processes)."""

    @abstractmethod
    def evaluate(self, model: Model, batch: Batch, metric: Metric) -> None:
        """Run ``model`` on an evaluation batch (decoding if needed) and update ``metric``."""

    @abstractmethod
    def results(self, metric: Metric) -> dict[str, Any]:
        """Final results as JSON-ready data with a flat ``"summary"`` of scalar metrics."""

    @abstractmethod
    def count_tokens(self, batch: Batch) -> int:
        """Non-padding input tokens in a training batch (for throughput)."""

    def summary_keys(self) -> set[str] | None:
        """The keys of ``results(...)["summary"]`` (what a sweep's ``metric`` may name), or
        None when they depend on the data; checked before a sweep starts."""
        return None

    def data_report(self) -> dict[str, Any] | None:
        """Facts about the data a run should record (e.g. how much truncation cut), written
        to ``metrics.json`` under ``data``; None when there is nothing to say."""
        return None

    @property
    def has_test(self) -> bool:
        """Whether the data module has a held-out test split, evaluated once after training."""
        return False

    def columns(self, metric: str, results: dict[str, Any]) -> list[MetricColumn]:
        """The leaderboard columns of a run selected on ``metric``, given its ``results``
        (stored in the run's record, so the leaderboard reads them instead of guessing):
        the test split's ``metric`` when the task has one, else the validation ``metric``;
        length tasks (``id_``/``ood_`` metrics) rank on OOD beside ID."""
        if "test" in results:
            return test_columns(metric)
        return length_columns(metric) or validation_columns(metric)

    def examples(
        self, split: str, length: int | None, count: int | None, seed: int
    ) -> list[dict[str, Any]]:
        """What the task's data looks like, for ``pebench examples``: ``count`` examples
        (None: the whole split, for a finite one) of ``split``, of one ``length`` (None:
        any), as ``{"input": [...], "target": [...], "length": n}`` in the task's own symbols
        (no padding, separator or tape tokens). Tasks that cannot show theirs say so."""
        raise PebenchError(f"task {self.name!r} does not show examples (pebench examples)")

    #: whether :meth:`token_positions` gives positions (what ``--model.abacus`` embeds)
    supplies_token_positions: ClassVar[bool] = False

    def token_positions(self, tokens: Tensor) -> Tensor | None:
        """Per-token positions the task defines for (batch, length) ``tokens`` (e.g. a digit's
        index within its number), for an embedding that consumes them; None when it defines
        none."""
        return None

    def write_predictions(self, model: Model, output_dir: Path) -> list[Path]:
        """Write the trained model's validation and test predictions for error analysis
        (tasks on real data); returns the files written."""
        return []

    def save_artifacts(self, output_dir: Path) -> None:  # noqa: B027 (optional hook)
        """Write what a later evaluation needs (e.g. a vocabulary) into the run directory."""
