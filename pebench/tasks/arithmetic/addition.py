"""Multi-digit addition (McLeish et al. 2024)."""

from __future__ import annotations

from pebench.tasks.arithmetic.operation import ArithmeticTask


class Addition(ArithmeticTask):
    """a + b with operands and sum least significant digit first: ``3 2 1 + 5 4 = 8 6 1``.
    McLeish et al. train on 1-20 digits and test to 100 (Abacus: 99% at 100 digits)."""

    name = "addition"
    description = "multi-digit addition, reversed digits, exact match per digit counts"
    symbol = "+"

    def apply(self, a: int, b: int) -> int:
        return a + b
