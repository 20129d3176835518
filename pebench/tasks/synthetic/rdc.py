"""Repeat-and-change copy (``rdc``, "repeat double char") of Kazemnejad et al. 2023:
n repeats of a symbol a, rewritten as n repeats of b."""

from __future__ import annotations

import itertools
import math
import random

from pebench.tasks.synthetic.s2s_copy import WORDS, Example, S2SCopyTask, token


class RepeatDoubleChar(S2SCopyTask):
    """``Replace a with b in a…a`` → b…b (n times): every ordered pair (a, b) of the first
    k symbols at every length, k(k − 1) ≈ ``count`` (their split ``rdc_tr20_ts40``)."""

    name = "rdc"
    description = "Kazemnejad et al. repeat-and-change: 'Replace a with b in a..a' -> b..b"

    def length_examples(self, n: int, count: int, rng: random.Random) -> list[Example]:
        out = []
        for a, b in itertools.permutations(range(self.symbols_needed(count)), 2):
            prompt = [WORDS["Replace"], token(a), WORDS["with"], token(b), WORDS["in"]]
            out.append((prompt, [a] * n, [b] * n))
        return out

    def symbols_needed(self, count: int) -> int:
        return int((1 + math.sqrt(1 + 4 * count)) / 2)
