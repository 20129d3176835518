"""Solve equation (Delétang et al. 2023, deterministic context-free;
``tasks/dcf/solve_equation.py``)."""

from __future__ import annotations

import numpy as np

from pebench.tasks.chomsky.modular_arithmetic_brackets import MODULUS, drawer, expression
from pebench.tasks.chomsky.tape import TapeTask

#: their alphabet for equations: residues 0..4, then these
SYMBOLS = {"+": 5, "-": 6, "(": 7, ")": 8, "x": 9, "=": 10}


class SolveEquation(TapeTask):
    """``expression = value`` with one residue of a bracketed expression (+ and −, mod 5) replaced
    by ``x``; the answer is that residue. The expression has n − 2 characters, the digit
    hidden is the first at or after a uniformly drawn position (wrapping around), as in their
    code; below length 3 the input is all 0s and the answer 0."""

    name = "solve_equation"
    description = "the residue x of a bracketed equation modulo 5 (deterministic context-free)"
    level = "dcf"
    input_size = MODULUS + 6
    output_size = MODULUS

    def equation(self, rng: np.random.Generator, n: int) -> tuple[str, int]:
        draw = drawer(rng, 4 * n + 1)
        text, value = expression(draw, n - 2, mult=False)
        at = draw(0, len(text))
        while not text[at].isdigit():
            at = (at + 1) % (n - 2)
        return f"{text[:at]}x{text[at + 1 :]}={value}", int(text[at])

    def sample(self, rng: np.random.Generator, batch: int, n: int) -> tuple[np.ndarray, np.ndarray]:
        if n < 3:
            return np.zeros((batch, n), dtype=np.int64), np.zeros((batch, 1), dtype=np.int64)
        drawn = [self.equation(rng, n) for _ in range(batch)]
        x = [[int(c) if c.isdigit() else SYMBOLS[c] for c in text] for text, _ in drawn]
        return np.array(x), np.array([[answer] for _, answer in drawn])
