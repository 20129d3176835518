"""Stack manipulation (Delétang et al. 2023, deterministic context-free;
``tasks/dcf/stack_manipulation.py``)."""

from __future__ import annotations

import numpy as np
from torch import Tensor

from pebench.tasks.chomsky.tape import TapeTask, up_to_terminator

POP, PUSH_0, PUSH_1 = 2, 3, 4
#: the output's end-of-stack token (then zeros)
TERMINATOR = 2


class StackManipulation(TapeTask):
    """A stack of 0s and 1s given bottom to top, then actions POP (2), PUSH 0 (3) and PUSH 1
    (4); the answer is the final stack top to bottom, then the terminator 2, then 0s up to
    n + 1 outputs. POP on an empty stack does nothing. The initial stack holds 1 to n − 1
    symbols (length 1: one symbol, no action). The accuracy counts the outputs up to the
    terminator. Theirs: ``0 1 1 0 PUSH1 POP POP`` → ``1 1 0 2 0 0 0 0``."""

    name = "stack_manipulation"
    description = "the stack left by POP/PUSH actions, top to bottom (deterministic context-free)"
    level = "dcf"
    input_size = 5
    output_size = 3

    def output_length(self, n: int) -> int:
        return n + 1

    def accuracy_mask(self, targets: Tensor) -> Tensor:
        return up_to_terminator(targets, TERMINATOR)

    def target(self, x: np.ndarray) -> np.ndarray:
        """The stacks left by inputs ``x`` (the initial stack is the leading 0s and 1s)."""
        batch, n = x.shape
        stack = np.zeros((batch, n + 1), dtype=np.int64)
        size = np.zeros(batch, dtype=np.int64)
        rows = np.arange(batch)
        for k in range(n):
            symbol = x[:, k]
            push = symbol != POP
            stack[rows[push], size[push]] = np.where(symbol[push] < POP, symbol[push],
                                                     symbol[push] - PUSH_0)  # fmt: skip
            size = np.where(push, size + 1, np.maximum(size - 1, 0))
        out = np.zeros((batch, n + 1), dtype=np.int64)
        positions = np.arange(n + 1)
        top_down = size[:, None] - 1 - positions[None, :]  # the stack read from its top
        inside = top_down >= 0
        out[inside] = stack[np.nonzero(inside)[0], top_down[inside]]
        out[rows, size] = TERMINATOR
        return out

    def sample(self, rng: np.random.Generator, batch: int, n: int) -> tuple[np.ndarray, np.ndarray]:
        if n == 1:
            x = rng.integers(0, 2, (batch, 1))
            return x, self.target(x)
        split = rng.integers(1, n, batch)  # the initial stack's size, 1..n-1
        stacks = rng.integers(0, 2, (batch, n))
        actions = rng.integers(POP, PUSH_1 + 1, (batch, n))
        x = np.where(np.arange(n)[None, :] < split[:, None], stacks, actions)
        return x, self.target(x)
