"""Even pairs (Delétang et al. 2023, regular; ``tasks/regular/even_pairs.py``)."""

from __future__ import annotations

import numpy as np

from pebench.tasks.chomsky.tape import TapeTask


class EvenPairs(TapeTask):
    """Whether a binary string holds an odd number of unequal neighbours (01 or 10): class 1
    when odd, 0 when even. Theirs: ``001110`` → 0, ``0101001`` → 1."""

    name = "even_pairs"
    description = "is the number of 01s and 10s in a binary string odd? (regular)"
    level = "regular"
    input_size = 2
    output_size = 2

    def target(self, x: np.ndarray) -> np.ndarray:
        return ((x[:, :-1] != x[:, 1:]).sum(-1) % 2)[:, None]
