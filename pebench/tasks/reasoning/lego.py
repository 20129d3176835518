"""LEGO (Zhang et al. 2022, "Unveiling Transformers with LEGO") as Kazemnejad et al. 2023
build it (``make_lego_dataset.py``, after yizhangzzz/transformers-lego)."""

from __future__ import annotations

import string

import numpy as np

from pebench.tasks.reasoning.builder import Problem, ReasoningTask

VARIABLES = tuple(string.ascii_lowercase)
#: a variable's value: their bit 0 is −1, 1 is +1
VALUES = ("-1", "+1")


class Lego(ReasoningTask):
    """A chain of n clauses over distinct variables, ``a = +1 , b = - a , c = + b …`` (the
    first assigns ±1, each next one equals or negates the previous), then ``? v``: the value
    of a variable in the chain's second half. One chain is asked about each of its last
    ⌊n/2⌋ variables; clauses keep their order (their ``len_tr8_ts16`` split, not ``_perm``);
    size n, the number of variables."""

    name = "lego"
    description = "LEGO (Zhang et al. 2022): the value of a variable in a chain of +/- clauses"
    symbols = (*VARIABLES, *VALUES, "=", "+", "-", ",", "?")
    min_size = 2

    def draw(self, n: int, count: int, rng: np.random.RandomState) -> list[Problem]:
        out = []
        for _ in range(count):
            bits = rng.randint(0, 2, (n,)).tolist()
            names = [VARIABLES[i] for i in rng.permutation(len(VARIABLES)).tolist()]
            clauses = [[names[0], "=", VALUES[bits[0]]]]
            for i in range(1, n):
                sign = "+" if bits[i] == bits[i - 1] else "-"
                clauses.append([names[i], "=", sign, names[i - 1]])
            chain = [s for k, clause in enumerate(clauses) for s in ([","] if k else []) + clause]
            for query in range((n + 1) // 2, n):
                out.append((n, [*chain, "?", names[query]], [VALUES[bits[query]]]))
        return out

    def draws_per_size(self, n: int, share: float) -> int:
        return int(share / (n // 2))

    def size(self, source: list[str]) -> int:
        return source.count("=")
