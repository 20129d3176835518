"""Modular arithmetic with brackets (Delétang et al. 2023, deterministic context-free;
``tasks/dcf/modular_arithmetic_brackets.py``)."""

from __future__ import annotations

from collections.abc import Callable

import numpy as np

from pebench.tasks.chomsky.tape import TapeTask

#: ``draw(low, high)``: a uniform integer in [low, high)
Draw = Callable[[int, int], int]

MODULUS = 5
#: their alphabet: residues 0..4, then these (``x`` and ``=`` serve solve_equation)
SYMBOLS = {"+": 5, "-": 6, "*": 7, "(": 8, ")": 9, "x": 10, "=": 11}


def drawer(rng: np.random.Generator, count: int) -> Draw:
    """Uniform integers from ``count`` numbers drawn at once (one NumPy call per sample
    instead of one per node: the recursion draws at most 4 per character)."""
    uniform = iter(rng.random(count).tolist())
    return lambda low, high: low + int(next(uniform) * (high - low))


def expression(draw: Draw, length: int, mult: bool) -> tuple[str, int]:
    """A bracketed expression of exactly ``length`` characters over residues mod 5 and its
    value, drawn as their ``generate_one_expression_and_result``: ``d``, ``-d``, ``(d)``,
    ``(-d)`` for lengths 1–4, else ``(left op right)`` with the length split at random."""
    if length < 1:
        raise ValueError(f"cannot generate an expression of length {length} (< 1)")
    if length <= 4:
        d = draw(0, MODULUS)
        text = ("{}", "-{}", "({})", "(-{})")[length - 1].format(d)
        return text, (-d if length in (2, 4) else d) % MODULUS
    left_length = draw(1, length - 3)
    left, left_value = expression(draw, left_length, mult)
    right, right_value = expression(draw, length - left_length - 3, mult)
    op = draw(0, 3 if mult else 2)
    value = (left_value + right_value, left_value - right_value, left_value * right_value)[op]
    return f"({left}{'+-*'[op]}{right})", value % MODULUS


def encode(text: str) -> list[int]:
    """Token ids of an expression's characters."""
    return [int(c) if c.isdigit() else SYMBOLS[c] for c in text]


class ModularArithmeticBrackets(TapeTask):
    """The value modulo 5 of a bracketed expression with +, − and × over residues 0–4,
    generated top-down as in their code (with multiplication, as their experiments ran it).
    Their vocabulary is the residues, ``+ - * ( )`` and ``x`` (``=`` is never sampled)."""

    name = "modular_arithmetic_brackets"
    description = "reduce a bracketed expression modulo 5 (deterministic context-free)"
    level = "dcf"
    input_size = MODULUS + 6
    output_size = MODULUS

    def sample(self, rng: np.random.Generator, batch: int, n: int) -> tuple[np.ndarray, np.ndarray]:
        drawn = [expression(drawer(rng, 4 * n), n, mult=True) for _ in range(batch)]
        x = np.array([encode(text) for text, _ in drawn])
        return x, np.array([[v] for _, v in drawn])
