"""The dataset builder the reasoning tasks of Kazemnejad et al. 2023 share
(``scripts/dataset_builders/make_{sum,poly,lego}_dataset.py`` in
McGill-NLP/length-generalization), drawn in the same order from the same generators:

* NumPy's legacy generator and Python's ``random``, both seeded with ``data_seed`` (theirs:
  9842497), so pebench's splits are the authors' draws;
* ``int(1.15 × num_train / bins)`` problems per training length (LEGO: that many divided
  by ⌊n/2⌋ chains, each asked ⌊n/2⌋ questions), shuffled; the first ``num_train`` train,
  the rest are the in-distribution validation set;
* ``int(num_test / bins)`` per test length, over ``train_max + 1 .. test_max`` (by default
  twice the longest training length), shuffled.

A problem is a source and an answer in the task's own symbols; a causal decoder reads
``source <sep> answer <eos>``, and exact match is reported per problem size ``n`` (values,
terms or variables). The authors' English wrappers (``Compute: … .``, ``The answer is …``)
and their T5 word pieces are left out: every symbol is one token.
"""

from __future__ import annotations

import functools
import random
from abc import abstractmethod
from typing import ClassVar

import numpy as np

from pebench.errors import PebenchError
from pebench.tasks.synthetic.s2s_copy import Example, SizedSeq2SeqTask

#: a problem: its size n, its source and its answer, as symbol names
Problem = tuple[int, list[str], list[str]]


class ReasoningTask(SizedSeq2SeqTask):
    """Base of the reasoning tasks: subclasses name their ``symbols`` and draw problems of
    size ``n`` (:meth:`draw`) from the builder's generator."""

    def __init__(
        self,
        train_lengths: tuple[int, int] = (4, 8),
        test_max: int | None = None,
        num_train: int = 10_000,
        num_test: int = 2_000,
        data_seed: int = 9842497,
    ) -> None:
        """
        Args:
            train_lengths: inclusive problem sizes of the training and validation sets
                (theirs: 4–8, the builder's default minimum and their ``tr8`` splits).
            test_max: largest test problem (default twice the largest training problem).
            num_train: training problems; 15% more are drawn and held out for validation.
            num_test: test problems over all test sizes.
            data_seed: seed of the dataset, shared by every run of a comparison.
        """
        lo, hi = train_lengths
        test_max = 2 * hi if test_max is None else test_max
        if lo < self.min_size or hi < lo:
            raise PebenchError(
                f"train_lengths must be a range [min, max] with {self.min_size} <= min <= max, "
                f"got [{lo}, {hi}]"
            )
        if test_max <= hi:
            raise PebenchError(
                f"test_max {test_max} must exceed the largest training size {hi}: the test "
                f"set holds the sizes after it"
            )
        if num_train < 1 or num_test < 1:
            raise PebenchError(
                f"num_train and num_test must be at least 1, got {num_train} and {num_test}"
            )
        super().__init__("decoder", len(self.symbols), (lo, hi), (lo, test_max), 1)
        self.num_train, self.num_test, self.data_seed = num_train, num_test, data_seed
        self.index = {s: i for i, s in enumerate(self.symbols)}

    #: the smallest problem the task defines
    min_size: ClassVar[int] = 1

    @abstractmethod
    def draw(self, n: int, count: int, rng: np.random.RandomState) -> list[Problem]:
        """Problems of size ``n`` from ``count`` draws, in the builder's order."""

    def draws_per_size(self, n: int, share: float) -> int:
        """Draws the builder makes for size ``n`` given its ``share`` of the problems."""
        return int(share)

    def splits(self) -> dict[str, list[Example]]:
        """Train, validation and test problems (generated once per task object)."""
        return self._splits

    @functools.cached_property
    def _splits(self) -> dict[str, list[Example]]:
        problems = self.problems()
        return {name: [self.example(p) for p in part] for name, part in problems.items()}

    def problems(self) -> dict[str, list[Problem]]:
        """The splits as the builder draws them, in symbols."""
        np_rng, py_rng = np.random.RandomState(self.data_seed), random.Random(self.data_seed)
        lo, hi = self.train_lengths
        pool = self._bins(range(lo, hi + 1), 1.15 * self.num_train, np_rng)
        py_rng.shuffle(pool)
        if len(pool) <= self.num_train:
            raise PebenchError(
                f"{self.name}: num_train {self.num_train} leaves no problem for validation"
            )
        test = self._bins(range(hi + 1, self.eval_lengths[1] + 1), self.num_test, np_rng)
        if not test:
            raise PebenchError(
                f"{self.name}: num_test {self.num_test} gives no problem per test size; raise it"
            )
        py_rng.shuffle(test)
        return {"train": pool[: self.num_train], "validation": pool[self.num_train :], "test": test}

    def _bins(self, sizes: range, total: float, rng: np.random.RandomState) -> list[Problem]:
        share = total / len(sizes)
        return [p for n in sizes for p in self.draw(n, self.draws_per_size(n, share), rng)]

    def example(self, problem: Problem) -> Example:
        """A problem as symbol indices (its size is read back by :meth:`size_of`)."""
        _, source, answer = problem
        return ([], [self.index[s] for s in source], [self.index[s] for s in answer])
