"""Missing duplicate (Delétang et al. 2023, context-sensitive;
``tasks/cs/missing_duplicate_string.py``)."""

from __future__ import annotations

import numpy as np

from pebench.tasks.chomsky.tape import TapeTask

MISSING, EMPTY = 2, 3


class MissingDuplicateString(TapeTask):
    """A binary string of length ⌊n/2⌋ written twice with one symbol replaced by ``2``; the
    answer is that symbol. An odd length ends with the empty token ``3``; length 1 is all
    ``1``s with answer 1, as in their code. Theirs: ``01100210`` → 1, ``1011213`` → 0."""

    name = "missing_duplicate_string"
    description = "the symbol hidden in a duplicated binary string (context-sensitive)"
    level = "cs"
    input_size = 4
    output_size = 2

    def target(self, x: np.ndarray) -> np.ndarray:
        half = x.shape[1] // 2
        if half == 0:
            return np.ones((x.shape[0], 1), dtype=np.int64)
        where = (x[:, : 2 * half] == MISSING).argmax(-1)
        partner = np.where(where < half, where + half, where - half)
        return x[np.arange(x.shape[0]), partner][:, None]

    def sample(self, rng: np.random.Generator, batch: int, n: int) -> tuple[np.ndarray, np.ndarray]:
        if n == 1:
            return np.ones((batch, 1), dtype=np.int64), np.ones((batch, 1), dtype=np.int64)
        strings = rng.integers(0, 2, (batch, n // 2))
        doubled = np.concatenate([strings, strings], axis=1)
        hidden = rng.integers(0, doubled.shape[1], batch)
        y = doubled[np.arange(batch), hidden][:, None]
        doubled[np.arange(batch), hidden] = MISSING
        x = np.concatenate([doubled, np.full((batch, n % 2), EMPTY)], axis=1)
        return x, y
