"""Arithmetic on multi-digit numbers as McLeish et al. 2024 train it ("Transformers Can Do
Arithmetic with the Right Embeddings"; data: ``bucket_method_gen`` in
``create_data_split.py`` of mcleish7/arithmetic).

* Operands and the result are written least significant digit first: 123 + 45 = 168 is
  ``3 2 1 + 5 4 = 8 6 1``; a causal decoder reads ``a op b =`` and writes the result, then
  ``<eos>``; the loss is on the result and ``<eos>``.
* Training cycles the operands' digit counts (i, j) evenly over every pair up to
  ``train_digits`` (their bucket method): row r of batch s has pair number s·B + r; an
  operand of i digits is uniform over [10^(i−1), 10^i − 1] (1-digit operands start at 1, as
  theirs do). Batches are drawn fresh from (seed, step).
* Evaluation covers every pair (i, j) up to ``eval_digits`` with ``eval_samples`` problems
  each: exact match per cell (:class:`~pebench.tasks.arithmetic.grid.GridAccuracy`), ID where
  both counts are at most ``train_digits``. Exact match is greedy decoding's, computed in one
  teacher-forced pass (:mod:`pebench.tasks.synthetic.forced`).
* :meth:`token_positions` are the Abacus positions: a digit's 1-based index within its number
  (``--model.abacus``).

Subclasses define the operator and its result.
"""

from __future__ import annotations

import itertools
from abc import abstractmethod
from collections.abc import Iterator
from typing import Any, ClassVar

import torch
import torch.nn.functional as F
from lightning.pytorch import LightningDataModule
from torch import Tensor, nn

from pebench.encodings.abacus import digit_run_positions
from pebench.errors import PebenchError
from pebench.tasks.arithmetic.grid import GridAccuracy
from pebench.tasks.base import (
    Batch,
    GeneratedDataModule,
    Model,
    Task,
    TokenHead,
    seeded_generator,
)
from pebench.tasks.synthetic.forced import forced_exact, padded_rows
from pebench.tasks.synthetic.sequence import FIRST_SYMBOL, IGNORE, PAD

#: the digits 0-9 are tokens FIRST_SYMBOL..FIRST_SYMBOL+9; then the operator; ``=`` is <sep>
DIGIT0 = FIRST_SYMBOL
OPERATOR = FIRST_SYMBOL + 10
EOS = 2


def digits_of(value: int) -> list[int]:
    """The decimal digits of ``value``, least significant first."""
    return [int(c) for c in reversed(str(value))]


class ArithmeticTask(Task):
    """Base of the arithmetic tasks: subclasses set ``symbol`` and define :meth:`apply`."""

    monitor = "id_exact_match"
    supplies_token_positions = True
    #: how the operator is written in examples
    symbol: ClassVar[str]

    def __init__(
        self, train_digits: int = 20, eval_digits: int = 100, eval_samples: int = 100
    ) -> None:
        """
        Args:
            train_digits: most digits of a training operand (both operands).
            eval_digits: most digits of an evaluated operand; the grid is eval_digits².
            eval_samples: problems per cell of the evaluation grid.
        """
        if not 1 <= train_digits <= eval_digits:
            raise PebenchError(
                f"need 1 <= train_digits <= eval_digits, got {train_digits} and {eval_digits}"
            )
        if eval_samples < 1:
            raise PebenchError(f"eval_samples must be at least 1, got {eval_samples}")
        self.train_digits, self.eval_digits, self.eval_samples = (
            train_digits, eval_digits, eval_samples
        )  # fmt: skip

    @abstractmethod
    def apply(self, a: int, b: int) -> int:
        """The result of the operation."""

    @property
    def causal(self) -> bool:
        return True

    @property
    def vocab_size(self) -> int:
        return OPERATOR + 1

    def build_head(self, d_model: int) -> nn.Module:
        return TokenHead(d_model, self.vocab_size)

    def operands(self, pairs: list[tuple[int, int]], gen: torch.Generator) -> list[tuple[int, int]]:
        """Operands with the asked digit counts: the first digit uniform in 1-9, the rest in
        0-9 (uniform over the numbers of that many digits)."""
        widest = max(max(p) for p in pairs)
        draws = torch.randint(0, 10, (len(pairs), 2, widest), generator=gen).numpy()
        lead = torch.randint(1, 10, (len(pairs), 2), generator=gen).numpy()
        out = []
        for row, counts in enumerate(pairs):
            numbers = []
            for side, n in enumerate(counts):
                rest = "".join(map(str, draws[row, side, : n - 1]))
                numbers.append(int(f"{lead[row, side]}{rest}"))
            out.append((numbers[0], numbers[1]))
        return out

    def row(self, a: int, b: int) -> tuple[list[int], list[int]]:
        """(source, answer) tokens: ``a op b`` reversed, and the reversed result then <eos>."""
        source = (
            [DIGIT0 + d for d in digits_of(a)] + [OPERATOR] + [DIGIT0 + d for d in digits_of(b)]
        )
        return source, [DIGIT0 + d for d in digits_of(self.apply(a, b))] + [EOS]

    def batch(self, pairs: list[tuple[int, int]], gen: torch.Generator) -> dict[str, Tensor]:
        """A right-padded batch of problems with these digit counts."""
        problems = self.operands(pairs, gen)
        out = padded_rows([self.row(a, b) for a, b in problems])
        out["first"] = torch.tensor([i for i, _ in pairs])
        out["second"] = torch.tensor([j for _, j in pairs])
        return out

    def training_pairs(self, step: int, batch_size: int) -> list[tuple[int, int]]:
        """The digit counts of batch ``step``: the pairs (i, j) ≤ train_digits, cycled."""
        n = self.train_digits
        start = step * batch_size
        return [(k % (n * n) // n + 1, k % n + 1) for k in range(start, start + batch_size)]

    def token_positions(self, tokens: Tensor) -> Tensor:
        """Abacus positions: a digit's 1-based index within its number; 0 elsewhere."""
        return digit_run_positions((tokens >= DIGIT0) & (tokens < DIGIT0 + 10))

    def datamodule(self, batch_size: int, seed: int) -> LightningDataModule:
        return ArithmeticDataModule(self, batch_size, seed)

    def loss(self, model: Model, batch: Batch) -> Tensor:
        logits = model(batch["inputs"])
        return F.cross_entropy(
            logits.flatten(0, 1), batch["targets"].flatten(), ignore_index=IGNORE
        )

    def build_metric(self) -> GridAccuracy:
        return GridAccuracy(self.eval_digits, self.train_digits)

    def evaluate(self, model: Model, batch: Batch, metric: GridAccuracy) -> None:
        exact = forced_exact(model, batch)
        metric.update(exact, batch["first"], batch["second"])

    def results(self, metric: GridAccuracy) -> dict[str, Any]:
        return {
            "summary": {key: value.item() for key, value in metric.compute().items()},
            "per_cell": metric.per_cell(),
            "train_max_length": self.train_digits,
        }

    def summary_keys(self) -> set[str] | None:
        ood = self.eval_digits > self.train_digits
        return {"id_exact_match", *(["ood_exact_match"] if ood else [])}

    def count_tokens(self, batch: Batch) -> int:
        return int((batch["inputs"] != PAD).sum())

    def examples(
        self, split: str, length: int | None, count: int | None, seed: int
    ) -> list[dict[str, Any]]:
        """Problems as digits (least significant first) and the operator; ``length`` fixes
        both operands' digit counts; ``train`` draws the training cycle, ``validation`` any
        cell of the evaluation grid."""
        if split not in ("train", "validation"):
            raise PebenchError(f"{self.name} has splits train and validation, not {split!r}")
        if count is None:
            raise PebenchError(f"{self.name} is generated without end: give --count, not --all")
        gen = seeded_generator(seed)
        if length is not None:
            pairs = [(length, length)] * count
        elif split == "train":
            pairs = self.training_pairs(0, count)
        else:
            grid = range(1, self.eval_digits + 1)
            cells = list(itertools.product(grid, grid))
            pairs = [cells[int(k)] for k in torch.randint(0, len(cells), (count,), generator=gen)]
        names = {DIGIT0 + d: str(d) for d in range(10)} | {OPERATOR: self.symbol, EOS: "<eos>"}
        out = []
        for a, b in self.operands(pairs, gen):
            source, answer = self.row(a, b)
            out.append({
                "input": [names[t] for t in source],
                "target": [names[t] for t in answer[:-1]],
                "length": max(len(str(a)), len(str(b))),
            })  # fmt: skip
        return out


class ArithmeticDataModule(GeneratedDataModule):
    """An endless training stream over the cycled digit counts; the evaluation grid."""

    task: ArithmeticTask

    def train_batch(self, step: int) -> dict[str, Tensor]:
        pairs = self.task.training_pairs(step, self.batch_size)
        return self.task.batch(pairs, seeded_generator(self.seed, 0, step))

    def eval_batches(self) -> Iterator[dict[str, Tensor]]:
        task, grid = self.task, range(1, self.task.eval_digits + 1)
        for i, j in itertools.product(grid, grid):
            gen = seeded_generator(self.seed, 1, i, j)
            for start in range(0, task.eval_samples, self.batch_size):
                size = min(self.batch_size, task.eval_samples - start)
                yield task.batch([(i, j)] * size, gen)
