"""Duplicate string (Delétang et al. 2023, context-sensitive; ``tasks/cs/duplicate_string.py``)."""

from __future__ import annotations

import numpy as np

from pebench.tasks.chomsky.tape import TapeTask


class DuplicateString(TapeTask):
    """A binary string written twice, without separator. Theirs: ``101`` → ``101101``."""

    name = "duplicate_string"
    description = "write a binary string twice (context-sensitive)"
    level = "cs"
    input_size = 2
    output_size = 2

    def output_length(self, n: int) -> int:
        return 2 * n

    def target(self, x: np.ndarray) -> np.ndarray:
        return np.concatenate([x, x], axis=1)
