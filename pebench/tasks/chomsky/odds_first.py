"""Odds first (Delétang et al. 2023, context-sensitive; ``tasks/cs/odds_first.py``)."""

from __future__ import annotations

import numpy as np

from pebench.tasks.chomsky.tape import TapeTask


class OddsFirst(TapeTask):
    """A binary string with the symbols at odd 0-based indices first, then those at even
    ones: s₂ s₄ … s₁ s₃ … in 1-based terms. This is their code (``[:, 1::2]`` before
    ``[:, ::2]``), which every published result ran; their docstring says the opposite
    order (``00110101`` → ``0100 0111``), while the code gives ``0111 0100``."""

    name = "odds_first"
    description = "the symbols at odd indices, then those at even ones (context-sensitive)"
    level = "cs"
    input_size = 2
    output_size = 2

    def output_length(self, n: int) -> int:
        return n

    def target(self, x: np.ndarray) -> np.ndarray:
        return np.concatenate([x[:, 1::2], x[:, ::2]], axis=1)
