"""Binary numbers as the binary-arithmetic tasks write them (``tasks/cs/binary_addition.py``
of Delétang et al.): bits of Python's arbitrary-precision integers, little-endian unless
said, zero-filled to a length or (length 0) without leading zeros."""

from __future__ import annotations

import random
from abc import abstractmethod

import numpy as np
from torch import Tensor

from pebench.tasks.chomsky.tape import TapeTask, up_to_terminator

#: the token between the two numbers of an expression, and the output's terminator
SEPARATOR = TERMINATOR = 2


def bits(number: int, length: int = 0, little_endian: bool = True) -> list[int]:
    """``number``'s binary digits, zero-filled to ``length`` (0: none; ``0`` is ``[0]``)."""
    digits = [int(b) for b in f"{number:b}".zfill(length)]
    return digits[::-1] if little_endian else digits


def value(digits: list[int] | np.ndarray, little_endian: bool = True) -> int:
    """The integer ``digits`` write."""
    ordered = list(digits)[::-1] if little_endian else list(digits)
    return int("".join(map(str, ordered)) or "0", 2)


def python_random(rng: np.random.Generator) -> random.Random:
    """A Python generator drawn from ``rng``, for integers beyond 64 bits."""
    return random.Random(int(rng.integers(0, 2**63 - 1)))


def operands(rng: np.random.Generator, batch: int, n: int) -> list[tuple[int, int, int, int]]:
    """``batch`` pairs of positive integers written with ``a + b = n − 1`` bits (a, b ≥ 1):
    (first, a, second, b), as their ``_sample_expressions_and_results`` draws them."""
    draw = python_random(rng)
    out = []
    for a in rng.integers(1, n - 1, batch).tolist():
        b = n - 1 - a
        out.append((draw.randint(1, 2**a - 1), a, draw.randint(1, 2**b - 1), b))
    return out


def expression(first: int, a: int, second: int, b: int) -> list[int]:
    """``first`` in ``a`` bits, the separator, ``second`` in ``b`` bits (little-endian)."""
    return bits(first, a) + [SEPARATOR] + bits(second, b)


def parse(tokens: list[int] | np.ndarray) -> tuple[int, int]:
    """The two integers of an expression ``first 2 second`` (little-endian)."""
    tokens = list(tokens)
    cut = tokens.index(SEPARATOR)
    return value(tokens[:cut]), value(tokens[cut + 1 :])


class BinaryOperationTask(TapeTask):
    """Base of ``binary_addition`` and ``binary_multiplication``: two positive numbers in
    little-endian binary with ``2`` between them (n tokens in all), their answer in
    little-endian binary, the terminator 2, then 0s; lengths 1 and 2 are one number in
    [0, 2ⁿ − 2]. The accuracy counts the outputs up to the terminator."""

    level = "cs"
    input_size = 3
    output_size = 3

    def accuracy_mask(self, targets: Tensor) -> Tensor:
        return up_to_terminator(targets, TERMINATOR)

    @abstractmethod
    def target(self, x: np.ndarray) -> np.ndarray:
        """The answers (batch, output_length(n)) to expressions ``x`` (batch, n)."""

    def sample(self, rng: np.random.Generator, batch: int, n: int) -> tuple[np.ndarray, np.ndarray]:
        if n <= 2:
            numbers = rng.integers(0, 2**n - 1, batch).tolist()
            x = np.array([bits(v, n) for v in numbers])
        else:
            x = np.array([expression(*pair) for pair in operands(rng, batch, n)])
        return x, self.target(x)
