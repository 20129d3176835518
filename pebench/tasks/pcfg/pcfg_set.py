"""PCFG SET's productivity split (Hupkes et al. 2020) as a sequence-to-sequence decoder task."""

from __future__ import annotations

import functools
import random

from pebench.errors import PebenchError
from pebench.tasks.pcfg.grammar import COMMA, FUNCTIONS, LETTERS, Sampler, function_count, interpret
from pebench.tasks.synthetic.s2s_copy import Example, SizedSeq2SeqTask

#: every input and output symbol: the letters, the functions and the comma
SYMBOLS = {s: i for i, s in enumerate((*LETTERS, *FUNCTIONS, COMMA))}


class PcfgSet(SizedSeq2SeqTask):
    """PCFG SET, productivity: a program (``append swap_first_last F1 G2 H3 , repeat I4 J5``)
    to its output (``H3 G2 F1 I4 J5 I4 J5``), read by a causal decoder as ``program <sep>
    output <eos>``; exact match per number of functions. Train on programs of at most
    ``train_functions`` functions, test on ``train_functions + 1 .. max_functions``.

    The data is generated (:mod:`pebench.tasks.pcfg.grammar`), equally many programs per
    function count, with the authors' functions, alphabet, string arguments and length cap;
    ``validation_fraction`` of the training programs are held out for selection. Exact match
    is greedy decoding's, computed in one teacher-forced pass
    (:mod:`pebench.tasks.synthetic.forced`).
    """

    name = "pcfg_set"
    symbols = tuple(SYMBOLS)
    description = "PCFG SET string-edit programs, productivity split (Hupkes et al. 2020)"

    def __init__(
        self,
        train_functions: int = 8,
        max_functions: int = 16,
        num_train: int = 81_000,
        num_test: int = 11_000,
        max_output_length: int = 256,
        validation_fraction: float = 0.1,
        data_seed: int = 1,
    ) -> None:
        """
        Args:
            train_functions: most functions in a training (and validation) program.
            max_functions: most functions in a test program.
            num_train: training and validation programs, equally many per function count.
            num_test: test programs, equally many per function count.
            max_output_length: longest output kept (``repeat`` doubles; the rest are redrawn).
            validation_fraction: share of the training programs held out for selection.
            data_seed: seed of the dataset, shared by every run of a comparison.
        """
        if not 1 <= train_functions < max_functions:
            raise PebenchError(
                f"need 1 <= train_functions < max_functions, got {train_functions} and "
                f"{max_functions}: the test split holds the programs with more functions"
            )
        if not 0 < validation_fraction < 1:
            raise PebenchError(f"validation_fraction must be in (0, 1), got {validation_fraction}")
        if num_train < train_functions or num_test < max_functions - train_functions:
            raise PebenchError(
                f"num_train {num_train} and num_test {num_test} must give every function "
                f"count at least one program"
            )
        if max_output_length < 2:
            raise PebenchError(f"max_output_length must be at least 2, got {max_output_length}")
        super().__init__("decoder", len(SYMBOLS), (1, train_functions), (1, max_functions), 1)
        self.num_train, self.num_test = num_train, num_test
        self.max_output_length, self.data_seed = max_output_length, data_seed
        self.validation_fraction = validation_fraction

    def splits(self) -> dict[str, list[Example]]:
        """Train, validation and test programs (generated once per task object)."""
        return self._splits

    @functools.cached_property
    def _splits(self) -> dict[str, list[Example]]:
        sampler = Sampler(random.Random(self.data_seed))
        train_max, test_max = self.train_lengths[1], self.eval_lengths[1]
        train = self._draw(sampler, range(1, train_max + 1), self.num_train)
        test = self._draw(sampler, range(train_max + 1, test_max + 1), self.num_test)
        sampler.rng.shuffle(train)
        held = max(1, round(self.validation_fraction * len(train)))
        return {"train": train[held:], "validation": train[:held], "test": test}

    def _draw(self, sampler: Sampler, counts: range, total: int) -> list[Example]:
        examples = []
        for k, functions in enumerate(counts):
            share = total // len(counts) + (k < total % len(counts))
            while share:
                program = sampler.program(functions)
                if program is None:
                    continue
                output = interpret(program)
                if len(output) <= self.max_output_length:
                    examples.append(
                        ([], [SYMBOLS[t] for t in program], [SYMBOLS[t] for t in output])
                    )
                    share -= 1
        return examples

    def size(self, source: list[str]) -> int:
        return function_count(source)
