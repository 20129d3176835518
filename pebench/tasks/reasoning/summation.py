"""Summation modulo 10 (Kazemnejad et al. 2023, ``make_sum_dataset.py --modular``)."""

from __future__ import annotations

import numpy as np

from pebench.tasks.reasoning.builder import Problem, ReasoningTask

DIGITS = tuple(str(d) for d in range(10))


class Summation(ReasoningTask):
    """``v1 + v2 + … + vn`` → (v1 + … + vn) mod 10, each v uniform in 1–9; size n."""

    name = "summation"
    description = "Kazemnejad et al. summation: n digits 1-9 to their sum modulo 10"
    symbols = (*DIGITS, "+")

    def draw(self, n: int, count: int, rng: np.random.RandomState) -> list[Problem]:
        out = []
        for _ in range(count):
            values = rng.randint(1, 10, (n,)).tolist()
            source = " + ".join(map(str, values)).split()
            out.append((n, source, [str(sum(values) % 10)]))
        return out

    def size(self, source: list[str]) -> int:
        return source.count("+") + 1
