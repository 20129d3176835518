"""Cycle navigation (Delétang et al. 2023, regular; ``tasks/regular/cycle_navigation.py``)."""

from __future__ import annotations

import numpy as np

from pebench.tasks.chomsky.tape import TapeTask

#: states on the circle
CYCLE = 5


class CycleNavigation(TapeTask):
    """The final position on a circle of 5 states after a walk from state 0: token 0 moves
    left, 1 stays, 2 moves right (their actions −1, 0, +1 stored as action + 1). Theirs:
    ``+1 −1 0 −1 −1`` → −2, class 3."""

    name = "cycle_navigation"
    description = "the final state of a walk on a circle of 5 states (regular)"
    level = "regular"
    input_size = 3
    output_size = CYCLE

    def target(self, x: np.ndarray) -> np.ndarray:
        return ((x - 1).sum(-1) % CYCLE)[:, None]
