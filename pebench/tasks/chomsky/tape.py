"""The tasks of Delétang et al. 2023 ("Neural Networks and the Chomsky Hierarchy") as Ruoss et
al. 2023 ran them ("Randomized Positional Encodings Boost Length Generalization of
Transformers"): fifteen tasks over regular, deterministic context-free and context-sensitive
languages, each defined as in ``tasks/{regular,dcf,cs}/*.py`` of
``google-deepmind/neural_networks_chomsky_hierarchy`` and ``randomized_positional_encodings``.

The formulation is theirs (``make_model_with_empty_targets``): the model reads the ``n`` input
tokens followed by ``output_length(n)`` empty tape tokens, and its outputs at the tape are
classified into the task's ``output_size`` classes. The loss is the cross-entropy over every
output position (theirs is unmasked); the accuracy counts the positions the task's
``accuracy_mask`` keeps (up to and including a terminator, where the task has one). Training
batches hold one length each, drawn uniformly from ``train_lengths`` (theirs: 1–40), with
fresh samples every step; evaluation covers every length of ``eval_lengths``.

Their models are bidirectional encoders; ``causal`` reads the same tape under a causal mask,
for encodings that only work causally (NoPE, xPos, PaTH).
"""

from __future__ import annotations

from collections.abc import Iterator
from typing import Any, ClassVar

import numpy as np
import torch
import torch.nn.functional as F
from lightning.pytorch import LightningDataModule
from torch import Tensor, nn

from pebench.errors import PebenchError
from pebench.tasks.base import Batch, GeneratedDataModule, Model, Task, TokenHead
from pebench.tasks.metrics import LengthAccuracy

#: Chomsky-hierarchy levels, as their ``TASK_LEVELS`` names them
LEVELS = ("regular", "dcf", "cs")


def rng_for(*keys: int) -> np.random.Generator:
    """A NumPy generator seeded from integer keys, e.g. (seed, split, step)."""
    return np.random.default_rng([int(k) for k in keys])


class TapeDataModule(GeneratedDataModule):
    """An endless training stream and a fixed evaluation set, one length per batch."""

    task: TapeTask

    def train_batch(self, step: int) -> dict[str, Tensor]:
        """Training batch ``step``: one length drawn from ``train_lengths``, fresh samples,
        from (seed, step)."""
        rng = rng_for(self.seed, 0, step)
        lo, hi = self.task.train_lengths
        n = int(rng.integers(lo, hi + 1))
        return self.task.make_batch(*self.task.sample(rng, self.batch_size, n), n)

    def eval_batches(self) -> Iterator[dict[str, Tensor]]:
        lo, hi = self.task.eval_lengths
        for n in range(lo, hi + 1):
            for start in range(0, self.task.eval_samples, self.batch_size):
                count = min(self.batch_size, self.task.eval_samples - start)
                rng = rng_for(self.seed, 1, n, start)
                yield self.task.make_batch(*self.task.sample(rng, count, n), n)


class TapeTask(Task):
    """Base of the Chomsky-hierarchy tasks: subclasses set ``input_size``, ``output_size``
    and ``level`` and define ``target`` of uniform input strings, or ``sample`` where the
    inputs have structure (and ``output_length``, ``accuracy_mask`` where theirs differ
    from one output and every position)."""

    #: the accuracy their papers report, on in-distribution validation lengths
    monitor = "id_token_accuracy"
    #: ``regular``, ``dcf`` (deterministic context-free) or ``cs`` (context-sensitive)
    level: ClassVar[str]
    #: input symbols and output classes, as their ``input_size`` and ``output_size``
    input_size: ClassVar[int]
    output_size: ClassVar[int]

    def __init__(
        self,
        causal: bool = False,
        train_lengths: tuple[int, int] = (1, 40),
        eval_lengths: tuple[int, int] = (1, 100),
        eval_samples: int = 64,
    ) -> None:
        """
        Args:
            causal: read the tape under a causal mask (their models are bidirectional).
            train_lengths: inclusive range of input lengths seen in training (theirs: 1–40).
            eval_lengths: inclusive range of input lengths evaluated; those above
                ``train_lengths`` are out of distribution (theirs: up to 500).
            eval_samples: evaluation samples per length (theirs: 512).
        """
        for label, (lo, hi) in (("train_lengths", train_lengths), ("eval_lengths", eval_lengths)):
            if lo < 1 or hi < lo:
                raise PebenchError(
                    f"{label} must be a range [min, max] with 1 <= min <= max, got [{lo}, {hi}]"
                )
        if eval_samples < 1:
            raise PebenchError(f"eval_samples must be at least 1, got {eval_samples}")
        self.is_causal = causal
        self.train_lengths = tuple(train_lengths)
        self.eval_lengths = tuple(eval_lengths)
        self.eval_samples = eval_samples

    def sample(self, rng: np.random.Generator, batch: int, n: int) -> tuple[np.ndarray, np.ndarray]:
        """``batch`` inputs (batch, n') of symbols in [0, input_size) for length ``n`` and
        their targets (batch, output_length(n)) in [0, output_size). n' is n except where
        the source says otherwise (modular arithmetic shortens even lengths by one). By
        default uniform strings over the symbols, answered by :meth:`target`."""
        x = rng.integers(0, self.input_size, (batch, n))
        return x, self.target(x)

    def target(self, x: np.ndarray) -> np.ndarray:
        """The targets of inputs ``x`` (batch, n), for tasks whose inputs determine them."""
        raise NotImplementedError(f"task {self.name!r} draws its targets with its inputs")

    def output_length(self, n: int) -> int:
        """Output positions for an input of length ``n``."""
        return 1

    def accuracy_mask(self, targets: Tensor) -> Tensor:
        """Which output positions the accuracy counts (every one, unless a task says)."""
        return torch.ones_like(targets, dtype=torch.bool)

    @property
    def causal(self) -> bool:
        return self.is_causal

    @property
    def vocab_size(self) -> int:
        return self.input_size + 1  # the symbols and the empty tape token

    @property
    def tape_token(self) -> int:
        return self.input_size

    def build_head(self, d_model: int) -> nn.Module:
        return TokenHead(d_model, self.output_size)

    def datamodule(self, batch_size: int, seed: int) -> LightningDataModule:
        return TapeDataModule(self, batch_size, seed)

    def make_batch(self, x: np.ndarray, y: np.ndarray, n: int) -> dict[str, Tensor]:
        """Model inputs (symbols, then the empty tape) and targets; ``n`` is the length
        asked for (what results are reported under)."""
        x_t, y_t = torch.as_tensor(x, dtype=torch.long), torch.as_tensor(y, dtype=torch.long)
        tape = torch.full_like(y_t, self.tape_token)
        return {
            "inputs": torch.cat([x_t, tape], dim=1),
            "y": y_t,
            "length": torch.full((x_t.shape[0],), n, dtype=torch.long),
        }

    def logits(self, model: Model, batch: Batch) -> Tensor:
        """The model's output classes at the tape (batch, output_length, output_size)."""
        return model(batch["inputs"])[:, -batch["y"].shape[1] :]

    def loss(self, model: Model, batch: Batch) -> Tensor:
        logits = self.logits(model, batch)
        return F.cross_entropy(logits.flatten(0, 1).float(), batch["y"].flatten())

    def summary_keys(self) -> set[str] | None:
        splits = ["id"] + (["ood"] if self.eval_lengths[1] > self.train_lengths[1] else [])
        return {f"{s}_{m}" for s in splits for m in ("token_accuracy", "exact_match")}

    def build_metric(self) -> LengthAccuracy:
        return LengthAccuracy(self.eval_lengths[1], self.train_lengths[1])

    @torch.no_grad()
    def evaluate(self, model: Model, batch: Batch, metric: LengthAccuracy) -> None:
        preds = self.logits(model, batch).argmax(-1)
        y = batch["y"]
        metric.update(preds, y, batch["length"], self.accuracy_mask(y))

    def results(self, metric: LengthAccuracy) -> dict[str, Any]:
        summary = {key: value.item() for key, value in metric.compute().items()}
        per_length = {str(n): values for n, values in metric.per_length().items()}
        return {
            "summary": summary,
            "per_length": per_length,
            "train_max_length": self.train_lengths[1],
            "level": self.level,
        }

    def count_tokens(self, batch: Batch) -> int:
        return batch["inputs"].numel()

    def examples(
        self, split: str, length: int | None, count: int | None, seed: int
    ) -> list[dict[str, Any]]:
        """Freshly drawn samples (every split is generated, so ``split`` only names the
        stream: training draws lengths from ``train_lengths``, the others cover
        ``eval_lengths``); ids are the source's integer tokens and classes as strings, the
        target whole, terminator and trailing zeros included (their padding is class 0)."""
        if count is None:
            raise PebenchError(f"task {self.name!r} generates its data; give --count N")
        lo, hi = self.train_lengths if split == "train" else self.eval_lengths
        rng = rng_for(seed, 2, count)
        out = []
        for _ in range(count):
            n = length if length is not None else int(rng.integers(lo, hi + 1))
            x, y = self.sample(rng, 1, n)
            out.append({"input": [str(v) for v in x[0].tolist()],
                        "target": [str(v) for v in y[0].tolist()], "length": n})  # fmt: skip
        return out


def up_to_terminator(targets: Tensor, terminator: int) -> Tensor:
    """Positions up to and including the first ``terminator`` of each row (their
    ``accuracy_mask`` for outputs that end with one and are padded with zeros after it)."""
    first = (targets == terminator).int().argmax(-1, keepdim=True)
    return torch.arange(targets.shape[-1], device=targets.device) <= first
