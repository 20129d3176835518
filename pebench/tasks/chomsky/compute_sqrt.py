"""Compute square root (Delétang et al. 2023, context-sensitive; ``tasks/cs/compute_sqrt.py``)."""

from __future__ import annotations

import math

import numpy as np

from pebench.tasks.chomsky import binary
from pebench.tasks.chomsky.tape import TapeTask


class ComputeSqrt(TapeTask):
    """A positive number in big-endian binary (n bits, zero-filled); the answer is
    ⌊√x⌋ in big-endian binary, zero-filled to ⌈n/2⌉ bits. Theirs: ``111`` (7) → ``10``;
    ``100101`` (37) → 6 = ``110`` (their docstring writes ``101``, a slip: 6 is ``110``)."""

    name = "compute_sqrt"
    description = "the floor of the square root of a binary number (context-sensitive)"
    level = "cs"
    input_size = 2
    output_size = 2

    def output_length(self, n: int) -> int:
        return math.ceil(n / 2)

    def target(self, x: np.ndarray) -> np.ndarray:
        n = x.shape[1]
        roots = [math.isqrt(binary.value(row, little_endian=False)) for row in x.tolist()]
        return np.array([binary.bits(r, self.output_length(n), little_endian=False) for r in roots])

    def sample(self, rng: np.random.Generator, batch: int, n: int) -> tuple[np.ndarray, np.ndarray]:
        draw = binary.python_random(rng)
        numbers = [draw.randint(1, 2**n - 1) for _ in range(batch)]
        x = np.array([binary.bits(v, n, little_endian=False) for v in numbers])
        return x, self.target(x)
