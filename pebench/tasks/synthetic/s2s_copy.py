"""The copy-task family of Kazemnejad et al. 2023 ("The Impact of Positional Encoding on
Length Generalization in Transformers", NeurIPS), on their splits and with their data
semantics (``scripts/dataset_builders/make_copy_dataset.py`` in McGill-NLP/length-generalization):

* a *finite* training set: ``1.15 × num_train`` examples spread evenly over the training
  lengths, shuffled, the first ``num_train`` kept for training and the rest held out as the
  in-distribution validation set (model selection reads only this);
* an out-of-distribution test set with the same number of examples per length over
  ``train_max + 1 .. test_max`` (by default ``2 × train_max``), down-sampled to ``num_test``;
* one dataset for every run (``data_seed``): runs differ only in initialization and batch
  order, as in the authors' sweeps;
* a causal decoder reads ``prompt x <sep> y <eos>``, where the prompt is their instruction
  (``Copy:`` or ``Replace a with b in``); the loss is on ``y <eos>``, and an answer is right
  only if greedy decoding gives exactly ``y`` and then ``<eos>`` (their decoding stops at the
  end-of-sequence token, so an answer of the wrong length is wrong).

Their symbols are single-token words of the T5 tokenizer and their instruction words are
T5 word pieces; pebench uses abstract symbols and one token per instruction word (the
tokenizer's identity plays no role in the task; the prompt is a token or two shorter).
Subclasses define which examples one length holds (:meth:`S2SCopyTask.length_examples`) and the
symbol count they need.
"""

from __future__ import annotations

import functools
import random
from abc import abstractmethod
from collections.abc import Iterator
from typing import Any

import torch
from lightning.pytorch import LightningDataModule
from torch import Tensor
from torch.utils.data import DataLoader, IterableDataset

from pebench.errors import PebenchError
from pebench.tasks.base import seeded_generator
from pebench.tasks.columns import MetricColumn, held_out_length_columns
from pebench.tasks.metrics import LengthAccuracy
from pebench.tasks.synthetic.forced import forced_batches, forced_update, padded_rows
from pebench.tasks.synthetic.sequence import FIRST_SYMBOL, PAD, SequenceTask

#: end of the output; the decoder formulation never uses the output-tape token, whose id it takes
EOS = 2
#: one token per instruction word of the authors' prompts
WORDS = {word: FIRST_SYMBOL + i for i, word in enumerate(("Copy", ":", "Replace", "with", "in"))}
FIRST = FIRST_SYMBOL + len(WORDS)
#: (prompt token ids, input symbols, output symbols); symbols are indices from 0
Example = tuple[list[int], list[int], list[int]]


def token(symbol: int) -> int:
    """The token id of symbol ``symbol``."""
    return FIRST + symbol


COPY_PROMPT = [WORDS["Copy"], WORDS[":"]]


class FiniteSeq2SeqTask(SequenceTask):
    """Base of the sequence-to-sequence tasks on a finite dataset (:meth:`splits`: train,
    in-distribution validation and a test split of longer examples): a causal decoder reads
    ``source <sep> answer <eos>``, batches stream the training set epoch by epoch, and
    evaluation decodes greedily, reported per length."""

    monitor = "id_exact_match"

    @abstractmethod
    def splits(self) -> dict[str, list[Example]]:
        """The train, validation and test examples."""

    def target(self, x: Tensor) -> Tensor:
        raise NotImplementedError("finite-dataset examples carry their own outputs")

    @property
    def vocab_size(self) -> int:
        return FIRST + self.alphabet_size

    @staticmethod
    def source(example: Example) -> list[int]:
        """Token ids the model reads before ``<sep>``: the prompt and the input."""
        prompt, x, _ = example
        return prompt + [token(s) for s in x]

    @staticmethod
    def answer(example: Example) -> list[int]:
        """Token ids the model must write: the output and ``<eos>``."""
        return [token(s) for s in example[2]] + [EOS]

    def collate(self, examples: list[Example]) -> dict[str, Tensor]:
        """A right-padded training batch; the loss sees only ``y <eos>``."""
        return padded_rows([(self.source(ex), self.answer(ex)) for ex in examples])

    def eval_batches(self, examples: list[Example], batch_size: int) -> list[dict[str, Tensor]]:
        """Evaluation batches whose rows share source and answer lengths (no padding)."""
        groups: dict[tuple[int, int, int], list[Example]] = {}
        for ex in examples:
            key = (len(ex[1]), len(self.source(ex)), len(ex[2]))
            groups.setdefault(key, []).append(ex)
        batches = []
        for key in sorted(groups):
            for start in range(0, len(groups[key]), batch_size):
                chunk = groups[key][start : start + batch_size]
                batches.append(
                    {
                        "x": torch.tensor([self.source(ex) for ex in chunk]),
                        "y": torch.tensor([self.answer(ex) for ex in chunk]),
                        "length": torch.full((len(chunk),), key[0], dtype=torch.long),
                    }
                )
        return batches

    def evaluate(self, model: Any, batch: dict[str, Tensor], metric: LengthAccuracy) -> None:
        """Greedy decoding of ``|y| + 1`` tokens: right only with ``y`` then ``<eos>``."""
        preds = self.predict(model, batch["x"], batch["y"].shape[1])
        metric.update(
            preds, batch["y"], batch["length"], torch.ones_like(batch["y"], dtype=torch.bool)
        )

    def length_of(self, example: Example) -> int:
        """The length an example is reported at (its input's, unless a task says)."""
        return len(example[1])

    def symbol(self, s: int) -> str:
        """A symbol's name, for ``pebench examples`` (its index, unless a task names them)."""
        return str(s)

    def examples(
        self, split: str, length: int | None, count: int | None, seed: int
    ) -> list[dict[str, Any]]:
        """Examples of ``split`` (of one length, if given) in the task's symbols, the prompt's
        instruction words included: ``count`` drawn with ``seed``, or the whole split."""
        if split not in ("train", "validation", "test"):
            raise PebenchError(f"{self.name} has splits train, validation and test, not {split!r}")
        parts = self.splits()
        chosen = [ex for ex in parts[split] if length is None or self.length_of(ex) == length]
        if count is not None and count < len(chosen):
            chosen = random.Random(seed).sample(chosen, count)
        words = {t: w for w, t in WORDS.items()}
        return [
            {
                "input": [words.get(t) or self.symbol(t - FIRST) for t in prompt]
                + [self.symbol(s) for s in x],
                "target": [self.symbol(s) for s in y],
                "length": self.length_of((prompt, x, y)),
            }
            for prompt, x, y in chosen
        ]

    def datamodule(self, batch_size: int, seed: int) -> LightningDataModule:
        return S2SCopyDataModule(self, batch_size, seed)

    def summary_keys(self) -> set[str] | None:
        return {"id_token_accuracy", "id_exact_match"}  # validation holds the ID lengths only

    @property
    def has_test(self) -> bool:
        return True

    def build_metric(self) -> LengthAccuracy:
        return LengthAccuracy(self.eval_lengths[1], self.train_lengths[1])

    def results(self, metric: LengthAccuracy) -> dict[str, Any]:
        return {**super().results(metric), "split_sizes": self.split_sizes}

    def columns(self, metric: str, results: dict[str, Any]) -> list[MetricColumn]:
        """ID on validation beside OOD on the test lengths, ranked on OOD."""
        test = results.get("test", {}).get("summary", {})
        return held_out_length_columns(metric, test) or super().columns(metric, results)

    @functools.cached_property
    def split_sizes(self) -> dict[str, int]:
        """Examples per split (computed once, from the generated splits)."""
        return {name: len(part) for name, part in self.splits().items()}

    def count_tokens(self, batch: dict[str, Tensor]) -> int:
        return int((batch["inputs"] != PAD).sum())


class SizedSeq2SeqTask(FiniteSeq2SeqTask):
    """A finite sequence-to-sequence task reported by a problem *size* its source defines
    (functions in a program, terms of a sum) rather than by a string length: subclasses
    name their ``symbols`` and read a source's :meth:`size`. Exact match is greedy
    decoding's, computed in one teacher-forced pass (:mod:`pebench.tasks.synthetic.forced`)."""

    #: every symbol a source or answer uses, in token order
    symbols: tuple[str, ...]

    @abstractmethod
    def size(self, source: list[str]) -> int:
        """The size a source (in symbols) is reported at."""

    def length_of(self, example: Example) -> int:
        return self.size([self.symbols[s] for s in example[1]])

    def symbol(self, s: int) -> str:
        return self.symbols[s]

    def eval_batches(self, examples: list[Example], batch_size: int) -> list[dict[str, Tensor]]:
        """Right-padded batches, each problem reported at its size."""
        rows = [(self.source(ex), self.answer(ex)) for ex in examples]
        sizes = [self.length_of(ex) for ex in examples]
        return forced_batches(rows, sizes.__getitem__, batch_size)

    def evaluate(self, model: Any, batch: dict[str, Tensor], metric: LengthAccuracy) -> None:
        forced_update(model, batch, metric)


class S2SCopyTask(FiniteSeq2SeqTask):
    """Base of the Kazemnejad et al. copy tasks: a finite set of examples per length."""

    monitor = "id_exact_match"

    def __init__(
        self,
        train_lengths: tuple[int, int] = (1, 20),
        test_max: int | None = None,
        num_train: int = 10_000,
        num_test: int | None = 2_000,
        data_seed: int = 9842497,
    ) -> None:
        """
        Args:
            train_lengths: inclusive input lengths of the training and validation sets.
            test_max: longest test input (default twice the longest training input).
            num_train: training examples; 15% more are generated and held out for validation.
            num_test: test examples over all test lengths (None: as many per length as the
                training lengths have).
            data_seed: seed of the dataset, shared by every run of a comparison.
        """
        lo, hi = train_lengths
        test_max = 2 * hi if test_max is None else test_max
        if test_max <= hi:
            raise PebenchError(
                f"test_max {test_max} must exceed the longest training length {hi}: the "
                f"test set holds the lengths after it"
            )
        super().__init__("decoder", 2, (lo, hi), (lo, test_max), 1)
        if num_train < 1 or (num_test is not None and num_test < 1):
            raise PebenchError(
                f"num_train and num_test must be at least 1, got {num_train} and {num_test}"
            )
        self.num_train, self.num_test, self.data_seed = num_train, num_test, data_seed
        self.per_length = int(1.15 * num_train / (hi - lo + 1))
        if self.per_length < 1:
            raise PebenchError(
                f"num_train {num_train} gives no example per training length; raise it to at "
                f"least {hi - lo + 1}"
            )
        self.alphabet_size = max(2, self.symbols_needed(self.per_length))

    @abstractmethod
    def length_examples(self, n: int, count: int, rng: random.Random) -> list[Example]:
        """``count`` examples of input length ``n`` (fewer if the task has fewer)."""

    @abstractmethod
    def symbols_needed(self, count: int) -> int:
        """Distinct symbols the task uses when each length holds ``count`` examples."""

    def splits(self) -> dict[str, list[Example]]:
        """The train, validation and test examples, generated as the authors' builder does."""
        rng = random.Random(self.data_seed)
        lo, hi = self.train_lengths
        per_length = self.per_length
        pool = [ex for n in range(lo, hi + 1) for ex in self.length_examples(n, per_length, rng)]
        rng.shuffle(pool)
        if len(pool) <= self.num_train:
            raise PebenchError(
                f"{self.name}: the training lengths hold only {len(pool)} distinct examples, "
                f"so num_train {self.num_train} leaves none for validation; use a larger "
                f"num_train (the pool grows with it)"
            )
        test: list[Example] = []
        test_lengths = range(hi + 1, self.eval_lengths[1] + 1)
        keep = self.per_length
        if self.num_test is not None:
            keep = min(keep, int(self.num_test / len(test_lengths)))
        for n in test_lengths:
            bin_examples = self.length_examples(n, self.per_length, rng)
            if keep < len(bin_examples):
                bin_examples = rng.sample(bin_examples, keep)
            test += bin_examples
        return {
            "train": pool[: self.num_train],
            "validation": pool[self.num_train :],
            "test": test,
        }


class _EpochStream(IterableDataset):
    """Batches of the training set, reshuffled every epoch from (seed, epoch); batch ``s``
    depends only on ``s``, so a resumed run continues the same stream."""

    def __init__(
        self,
        task: FiniteSeq2SeqTask,
        train: list[Example],
        batch_size: int,
        seed: int,
        start: int,
    ) -> None:
        self.task, self.train, self.batch_size = task, train, batch_size
        self.seed, self.start = seed, start

    def __iter__(self) -> Iterator[dict[str, Tensor]]:
        size, step = len(self.train), self.start
        orders: dict[int, list[int]] = {}
        while True:
            picked = []
            for index in range(step * self.batch_size, (step + 1) * self.batch_size):
                epoch = index // size
                if epoch not in orders:
                    orders = {
                        epoch: torch.randperm(
                            size, generator=seeded_generator(self.seed, 0, epoch)
                        ).tolist()
                    }
                picked.append(self.train[orders[epoch][index % size]])
            yield self.task.collate(picked)
            step += 1


class S2SCopyDataModule(LightningDataModule):
    """The fixed training set as an epoch stream; validation (ID) and test (OOD) batches."""

    def __init__(self, task: FiniteSeq2SeqTask, batch_size: int, seed: int) -> None:
        super().__init__()
        self.task, self.batch_size, self.seed = task, batch_size, seed
        self._splits: dict[str, list[Example]] | None = None

    @property
    def splits(self) -> dict[str, list[Example]]:
        if self._splits is None:
            self._splits = self.task.splits()
        return self._splits

    def train_dataloader(self) -> DataLoader:
        start = self.trainer.global_step if self.trainer is not None else 0
        stream = _EpochStream(self.task, self.splits["train"], self.batch_size, self.seed, start)
        return DataLoader(stream, batch_size=None)

    def val_dataloader(self) -> DataLoader:
        batches = self.task.eval_batches(self.splits["validation"], self.batch_size)
        return DataLoader(batches, batch_size=None)

    def test_dataloader(self) -> DataLoader:
        batches = self.task.eval_batches(self.splits["test"], self.batch_size)
        return DataLoader(batches, batch_size=None)
