"""PCFG SET's language (Hupkes et al. 2020, "Compositionality decomposed: how do neural
networks generalise?", JAIR; generator: MathijsMul/pcfg-set, ``generate.py`` and
``tasks/default.py``): ten string-edit functions in bracketless prefix notation over 520
letters (``A1`` … ``Z20``), with the interpreter and a seeded sampler.

* unary: ``copy x`` = x; ``reverse x``; ``shift x`` = x[1:] + x[0]; ``echo x`` = x + x[-1];
  ``swap_first_last x`` = x[-1] + x[1:-1] + x[0]; ``repeat x`` = x + x;
* binary (``f a , b``): ``append`` = a + b; ``prepend`` = b + a; ``remove_first`` = b;
  ``remove_second`` = a.

The sampler follows the authors' Markov tree: a function is unary with probability
``p_unary`` (else binary); a unary function's argument is again a function with probability
``p_func`` (else a string), and each argument of a binary function likewise; a string has
2–5 letters drawn uniformly, and no string argument occurs twice in one dataset. As in their
``--random_probs`` mode, ``p_unary`` and ``p_func`` are drawn uniformly per program, and a
program is kept only if it is written in fewer than 500 characters (their cap).
"""

from __future__ import annotations

import random
import string

UNARY = {
    "copy": lambda x: x,
    "reverse": lambda x: x[::-1],
    "shift": lambda x: x[1:] + x[:1],
    "echo": lambda x: x + x[-1:],
    "swap_first_last": lambda x: x[-1:] + x[1:-1] + x[:1],
    "repeat": lambda x: x + x,
}
BINARY = {
    "append": lambda a, b: a + b,
    "prepend": lambda a, b: b + a,
    "remove_first": lambda a, b: b,
    "remove_second": lambda a, b: a,
}
FUNCTIONS = (*UNARY, *BINARY)
LETTERS = tuple(f"{c}{i}" for c in string.ascii_uppercase for i in range(1, 21))
COMMA = ","
#: the longest program the authors keep, in characters
MAX_CHARS = 500
ARGUMENT_LENGTHS = (2, 3, 4, 5)


def interpret(program: list[str]) -> list[str]:
    """The output string of a program (a list of tokens in prefix notation)."""
    value, end = _evaluate(program, 0)
    if end != len(program):
        raise ValueError(f"trailing tokens after position {end}: {program[end:]}")
    return value


def _evaluate(tokens: list[str], i: int) -> tuple[list[str], int]:
    """The value of the expression starting at ``i`` and the index after it."""
    head = tokens[i]
    if head in UNARY:
        value, i = _evaluate(tokens, i + 1)
        return UNARY[head](value), i
    if head in BINARY:
        first, i = _evaluate(tokens, i + 1)
        if i >= len(tokens) or tokens[i] != COMMA:
            raise ValueError(f"{head} needs two arguments separated by ','")
        second, i = _evaluate(tokens, i + 1)
        return BINARY[head](first, second), i
    end = i
    while end < len(tokens) and tokens[end] not in FUNCTIONS and tokens[end] != COMMA:
        end += 1
    if end == i:
        raise ValueError(f"expected a string at position {i}")
    return tokens[i:end], end


def function_count(program: list[str]) -> int:
    """How many functions a program applies (productivity is split on this)."""
    return sum(token in FUNCTIONS for token in program)


class Sampler:
    """Programs of a given number of functions, with string arguments unique across every
    program this sampler gives (the authors' rule)."""

    def __init__(self, rng: random.Random, p_unary: float = 0.75) -> None:
        self.rng, self.p_unary = rng, p_unary
        self.used: set[tuple[str, ...]] = set()

    def program(self, functions: int) -> list[str] | None:
        """A program applying ``functions`` functions, or None when it is written in
        ``MAX_CHARS`` characters or more."""
        tokens: list[str] = []
        strings: set[tuple[str, ...]] = set()
        pending = [functions]  # functions in each argument still to write, last first
        while pending:
            item = pending.pop()
            if item == COMMA:
                tokens.append(COMMA)
            elif item == 0:
                value = self._string(strings)
                strings.add(value)
                tokens += value
            elif item == 1 or self.rng.random() < self.p_unary:
                tokens.append(self.rng.choice(tuple(UNARY)))
                pending.append(item - 1)
            else:
                tokens.append(self.rng.choice(tuple(BINARY)))
                first = self.rng.randint(0, item - 1)
                pending += [item - 1 - first, COMMA, first]
        if len(" ".join(tokens)) >= MAX_CHARS:
            return None
        self.used |= strings
        return tokens

    def _string(self, taken: set[tuple[str, ...]]) -> tuple[str, ...]:
        while True:
            length = self.rng.choice(ARGUMENT_LENGTHS)
            candidate = tuple(self.rng.choice(LETTERS) for _ in range(length))
            if candidate not in self.used and candidate not in taken:
                return candidate
