"""Binary addition (Delétang et al. 2023, context-sensitive; ``tasks/cs/binary_addition.py``)."""

from __future__ import annotations

import numpy as np

from pebench.tasks.chomsky import binary
from pebench.tasks.chomsky.binary import BinaryOperationTask


class BinaryAddition(BinaryOperationTask):
    """Two positive numbers in little-endian binary with ``2`` between them (n tokens in
    all); the answer is their sum in little-endian binary without leading zeros, the
    terminator 2, then 0s: n + 1 outputs, as their code emits (their docstring's examples
    show n). Lengths 1 and 2 are one number in [0, 2ⁿ − 2] answered by itself. The accuracy
    counts the outputs up to the terminator. Theirs: ``001 2 01101`` (4 + 22) → 26 =
    ``01011``, then ``2`` and zeros."""

    name = "binary_addition"
    description = "the sum of two binary numbers, little-endian (context-sensitive)"

    def output_length(self, n: int) -> int:
        return n + 1

    def answer(self, result: int, n: int) -> list[int]:
        digits = binary.bits(result)
        return digits + [binary.TERMINATOR] + [0] * (n - len(digits))

    def target(self, x: np.ndarray) -> np.ndarray:
        n = x.shape[1]
        if n <= 2:
            return np.array([self.answer(binary.value(row), n) for row in x.tolist()])
        return np.array([self.answer(sum(binary.parse(row)), n) for row in x.tolist()])
