"""Multi-digit multiplication (McLeish et al. 2024)."""

from __future__ import annotations

from pebench.tasks.arithmetic.operation import ArithmeticTask


class Multiplication(ArithmeticTask):
    """a × b with operands and product least significant digit first: ``2 1 * 3 = 6 3``.
    McLeish et al. train on operands of up to 15 digits and test to 25."""

    name = "multiplication"
    description = "multi-digit multiplication, reversed digits, exact match per digit counts"
    symbol = "*"

    def __init__(
        self, train_digits: int = 15, eval_digits: int = 25, eval_samples: int = 100
    ) -> None:
        super().__init__(train_digits, eval_digits, eval_samples)

    def apply(self, a: int, b: int) -> int:
        return a * b
