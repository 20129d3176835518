"""Parity check (Delétang et al. 2023, regular; ``tasks/regular/parity_check.py``)."""

from __future__ import annotations

import numpy as np

from pebench.tasks.chomsky.tape import TapeTask


class ParityCheck(TapeTask):
    """The number of 1s in a binary string, modulo 2. Theirs: ``1010100`` → 1,
    ``01111`` → 0."""

    name = "parity_check"
    description = "the number of 1s in a binary string, modulo 2 (regular)"
    level = "regular"
    input_size = 2
    output_size = 2

    def target(self, x: np.ndarray) -> np.ndarray:
        return (x.sum(-1) % 2)[:, None]
