"""Modular arithmetic without brackets (Delétang et al. 2023, regular;
``tasks/regular/modular_arithmetic.py``)."""

from __future__ import annotations

import numpy as np

from pebench.tasks.chomsky.tape import TapeTask

MODULUS = 5
#: operator tokens, after the residues 0..4: their ``modulus + OP_BY_CHARACTER``
PLUS, MINUS, TIMES, BLANK = MODULUS, MODULUS + 1, MODULUS + 2, MODULUS + 3


class ModularArithmetic(TapeTask):
    """The value modulo 5 of ``r op r op … r`` with residues r ∈ {0..4} and operators
    +, −, × (× before + and −). The input has odd length: an even length asked for is
    shortened by one, as in their code (results are still reported under the length asked
    for). Theirs (mod 5): ``1 + 2 × 3`` → 2, ``1 − 1 − 1`` → 4, ``0 × 1 + 4 × 3 − 2`` → 0.
    Their vocabulary also holds a blank ``_`` that is never sampled."""

    name = "modular_arithmetic"
    description = "reduce r op r op ... r modulo 5, operators + - * (regular)"
    level = "regular"
    input_size = MODULUS + 4
    output_size = MODULUS

    def target(self, x: np.ndarray) -> np.ndarray:
        total = np.zeros(x.shape[0], dtype=np.int64)
        term = x[:, 0] % MODULUS
        for k in range(1, x.shape[1], 2):
            op, value = x[:, k], x[:, k + 1]
            times = op == TIMES
            total = np.where(times, total, (total + term) % MODULUS)
            term = np.where(times, term * value, np.where(op == MINUS, -value, value)) % MODULUS
        return ((total + term) % MODULUS)[:, None]

    def sample(self, rng: np.random.Generator, batch: int, n: int) -> tuple[np.ndarray, np.ndarray]:
        n = n if n % 2 == 1 else n - 1
        x = np.empty((batch, n), dtype=np.int64)
        x[:, ::2] = rng.integers(0, MODULUS, (batch, n // 2 + 1))
        x[:, 1::2] = rng.choice(np.array([PLUS, TIMES, MINUS]), (batch, n // 2))
        return x, self.target(x)
