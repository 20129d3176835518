"""Repeat copy twice (``rsc2x``) of Kazemnejad et al. 2023: one symbol n times in, 2n out."""

from __future__ import annotations

import random
from typing import Any

from pebench.tasks.synthetic.s2s_copy import COPY_PROMPT, Example, S2SCopyTask


class RepeatSingleChar2x(S2SCopyTask):
    """``Copy: a…a`` (n times) → a…a (2n times), one example per symbol for the first
    ``count`` symbols (their split ``rsc2x_tr15_ts30``: train lengths up to 15)."""

    name = "rsc2x"
    description = "Kazemnejad et al. repeat copy 2x: one symbol n times in, 2n times out"

    def __init__(self, train_lengths: tuple[int, int] = (1, 15), **kwargs: Any) -> None:
        super().__init__(train_lengths, **kwargs)

    def length_examples(self, n: int, count: int, rng: random.Random) -> list[Example]:
        return [(COPY_PROMPT, [a] * n, [a] * (2 * n)) for a in range(count)]

    def symbols_needed(self, count: int) -> int:
        return count
