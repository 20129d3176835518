"""Binary multiplication (Delétang et al. 2023, context-sensitive;
``tasks/cs/binary_multiplication.py``)."""

from __future__ import annotations

import numpy as np

from pebench.tasks.chomsky import binary
from pebench.tasks.chomsky.binary import BinaryOperationTask


class BinaryMultiplication(BinaryOperationTask):
    """Two positive numbers in little-endian binary with ``2`` between them (n tokens in
    all); the answer is their product in little-endian binary without leading zeros, the
    terminator 2, then 0s: n outputs. Lengths 1 and 2 are one number in [0, 2ⁿ − 2] whose
    answer is n − 1 zeros then the terminator, as in their code. The accuracy counts the
    outputs up to the terminator. Theirs: ``001 2 01101`` (4 × 22) → ``000110120``."""

    name = "binary_multiplication"
    description = "the product of two binary numbers, little-endian (context-sensitive)"

    def output_length(self, n: int) -> int:
        return n

    def answer(self, digits: list[int], n: int) -> list[int]:
        return digits + [binary.TERMINATOR] + [0] * (n - 1 - len(digits))

    def target(self, x: np.ndarray) -> np.ndarray:
        n = x.shape[1]
        if n <= 2:
            return np.array([self.answer([0] * (n - 1), n) for _ in range(x.shape[0])])
        products = [a * b for a, b in map(binary.parse, x.tolist())]
        return np.array([self.answer(binary.bits(p), n) for p in products])
