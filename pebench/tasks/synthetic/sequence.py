"""Synthetic string transduction x → f(x), the length-generalization tasks of
Deletang et al. 2023, Ruoss et al. 2023 and Kazemnejad et al. 2023.

Two formulations, chosen by ``formulation``:

* ``decoder``: a causal decoder reads ``x <sep> y``; the loss is on ``y`` and evaluation
  decodes ``y`` greedily from ``x <sep>``.
* ``encoder``: a bidirectional encoder reads ``x <sep>`` followed by ``|y|`` placeholder
  tokens (the output tape), and its outputs at the placeholders are read as ``y``.

Training batches hold one length each, drawn uniformly from ``train_lengths``; batch ``s``
comes from a generator seeded with (seed, s), so a run is reproducible and resumable.
Evaluation covers every length in ``eval_lengths`` with ``eval_samples`` strings each.
"""

from __future__ import annotations

from abc import abstractmethod
from collections.abc import Iterator
from typing import Any, Literal

import torch
import torch.nn.functional as F
from lightning.pytorch import LightningDataModule
from torch import Tensor, nn

from pebench.errors import PebenchError
from pebench.tasks.base import (
    Batch,
    GeneratedDataModule,
    Model,
    Task,
    TokenHead,
    greedy,
    seeded_generator,
)
from pebench.tasks.metrics import LengthAccuracy

PAD, SEP, TAPE = 0, 1, 2
FIRST_SYMBOL = 3
IGNORE = -100
Formulation = Literal["decoder", "encoder"]


class SequenceDataModule(GeneratedDataModule):
    """An endless training stream and a fixed evaluation set, one batch per length."""

    task: SequenceTask

    def train_batch(self, step: int) -> dict[str, Tensor]:
        """Training batch ``step``: one length drawn from ``train_lengths``, from (seed, step)."""
        gen = seeded_generator(self.seed, 0, step)
        lo, hi = self.task.train_lengths
        n = int(torch.randint(lo, hi + 1, (1,), generator=gen))
        return self.task.make_batch(self.task.sample_inputs(self.batch_size, n, gen))

    def eval_batches(self) -> Iterator[dict[str, Tensor]]:
        lo, hi = self.task.eval_lengths
        for n in range(lo, hi + 1):
            gen = seeded_generator(self.seed, 1, n)
            x = self.task.sample_inputs(self.task.eval_samples, n, gen)
            for chunk in x.split(self.batch_size):
                yield self.task.make_batch(chunk)


class SequenceTask(Task):
    """Base of the synthetic transduction tasks: subclasses define only ``target``."""

    #: selection reads in-distribution validation only (the OOD lengths are what is reported)
    monitor = "id_exact_match"

    def __init__(
        self,
        formulation: Formulation = "decoder",
        alphabet_size: int = 10,
        train_lengths: tuple[int, int] = (1, 20),
        eval_lengths: tuple[int, int] = (1, 40),
        eval_samples: int = 32,
    ) -> None:
        """
        Args:
            formulation: ``decoder`` (causal, greedy decoding) or ``encoder`` (output tape).
            alphabet_size: number of distinct input symbols.
            train_lengths: inclusive range of input lengths seen in training.
            eval_lengths: inclusive range of input lengths evaluated; those above
                ``train_lengths`` are out of distribution (OOD).
            eval_samples: evaluation strings per length.
        """
        if formulation not in ("decoder", "encoder"):
            raise PebenchError(f"unknown formulation {formulation!r}; use 'decoder' or 'encoder'")
        for label, (lo, hi) in (("train_lengths", train_lengths), ("eval_lengths", eval_lengths)):
            if lo < 1 or hi < lo:
                raise PebenchError(
                    f"{label} must be a range [min, max] with 1 <= min <= max, got [{lo}, {hi}]"
                )
        if alphabet_size < 2:
            raise PebenchError(f"alphabet_size must be at least 2, got {alphabet_size}")
        if eval_samples < 1:
            raise PebenchError(f"eval_samples must be at least 1, got {eval_samples}")
        self.formulation = formulation
        self.alphabet_size = alphabet_size
        self.train_lengths = tuple(train_lengths)
        self.eval_lengths = tuple(eval_lengths)
        self.eval_samples = eval_samples

    @abstractmethod
    def target(self, x: Tensor) -> Tensor:
        """The output string(s) for input strings ``x`` (batch, n)."""

    @property
    def causal(self) -> bool:
        return self.formulation == "decoder"

    @property
    def vocab_size(self) -> int:
        return FIRST_SYMBOL + self.alphabet_size

    def build_head(self, d_model: int) -> nn.Module:
        return TokenHead(d_model, self.vocab_size)

    def datamodule(self, batch_size: int, seed: int) -> LightningDataModule:
        return SequenceDataModule(self, batch_size, seed)

    def sample_inputs(self, batch_size: int, n: int, generator: torch.Generator) -> Tensor:
        """Uniform random strings of length ``n`` over the alphabet."""
        high = FIRST_SYMBOL + self.alphabet_size
        return torch.randint(FIRST_SYMBOL, high, (batch_size, n), generator=generator)

    def make_batch(self, x: Tensor) -> dict[str, Tensor]:
        """Model inputs and targets (``IGNORE`` outside ``y``) for input strings ``x``."""
        y = self.target(x)
        b, n = x.shape
        sep = torch.full((b, 1), SEP, dtype=x.dtype)
        if self.formulation == "decoder":
            sequence = torch.cat([x, sep, y], dim=1)
            inputs, targets = sequence[:, :-1], sequence[:, 1:].clone()
            targets[:, :n] = IGNORE
        else:
            inputs = torch.cat([x, sep, torch.full_like(y, TAPE)], dim=1)
            targets = torch.cat([torch.full((b, n + 1), IGNORE, dtype=x.dtype), y], dim=1)
        return {"inputs": inputs, "targets": targets, "x": x, "y": y}

    def loss(self, model: Model, batch: Batch) -> Tensor:
        logits = model(batch["inputs"])
        return F.cross_entropy(
            logits.flatten(0, 1), batch["targets"].flatten(), ignore_index=IGNORE
        )

    @torch.no_grad()
    def predict(self, model: Model, x: Tensor, output_length: int) -> Tensor:
        """The model's output string for inputs ``x``: greedy decoding or one tape read-out."""
        b, n = x.shape
        sep = torch.full((b, 1), SEP, dtype=x.dtype, device=x.device)
        if self.formulation == "encoder":
            tape = torch.full((b, output_length), TAPE, dtype=x.dtype, device=x.device)
            return model(torch.cat([x, sep, tape], dim=1))[:, n + 1 :].argmax(-1)
        return greedy(model, torch.cat([x, sep], dim=1), output_length)

    def summary_keys(self) -> set[str] | None:
        splits = ["id"] + (["ood"] if self.eval_lengths[1] > self.train_lengths[1] else [])
        return {f"{s}_{m}" for s in splits for m in ("token_accuracy", "exact_match")}

    def build_metric(self) -> LengthAccuracy:
        return LengthAccuracy(self.eval_lengths[1], self.train_lengths[1])

    def evaluate(self, model: Model, batch: Batch, metric: LengthAccuracy) -> None:
        x, y = batch["x"], batch["y"]
        preds = self.predict(model, x, y.shape[1])
        lengths = torch.full((x.shape[0],), x.shape[1], dtype=torch.long, device=x.device)
        metric.update(preds, y, lengths, torch.ones_like(y, dtype=torch.bool))

    def results(self, metric: LengthAccuracy) -> dict[str, Any]:
        summary = {key: value.item() for key, value in metric.compute().items()}
        per_length = {str(n): values for n, values in metric.per_length().items()}
        return {
            "summary": summary,
            "per_length": per_length,
            "train_max_length": self.train_lengths[1],
        }

    def count_tokens(self, batch: Batch) -> int:
        return batch["inputs"].numel()

    def examples(
        self, split: str, length: int | None, count: int | None, seed: int
    ) -> list[dict[str, Any]]:
        """Freshly drawn strings (the data is generated: ``train`` draws lengths from
        ``train_lengths``, ``validation`` from ``eval_lengths``), symbols as their indices."""
        if split not in ("train", "validation"):
            raise PebenchError(f"{self.name} has splits train and validation, not {split!r}")
        if count is None:
            raise PebenchError(f"task {self.name!r} generates its data; give --count N")
        lo, hi = self.train_lengths if split == "train" else self.eval_lengths
        gen = seeded_generator(seed, 2)
        out = []
        for _ in range(count):
            n = (
                length
                if length is not None
                else int(torch.randint(lo, hi + 1, (1,), generator=gen))
            )
            x = self.sample_inputs(1, n, gen)
            names = [
                [str(t - FIRST_SYMBOL) for t in row]
                for row in (x[0].tolist(), self.target(x)[0].tolist())
            ]
            out.append({"input": names[0], "target": names[1], "length": n})
        return out
