"""Reverse string (Delétang et al. 2023, deterministic context-free;
``tasks/dcf/reverse_string.py``)."""

from __future__ import annotations

import numpy as np

from pebench.tasks.chomsky.tape import TapeTask


class ReverseString(TapeTask):
    """A binary string reversed. Theirs: ``011010`` → ``010110``."""

    name = "reverse_string"
    description = "reverse a binary string (deterministic context-free)"
    level = "dcf"
    input_size = 2
    output_size = 2

    def output_length(self, n: int) -> int:
        return n

    def target(self, x: np.ndarray) -> np.ndarray:
        return x[:, ::-1].copy()
