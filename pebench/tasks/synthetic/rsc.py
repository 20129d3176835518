"""Repeat copy (``rsc``, "repeat single char") of Kazemnejad et al. 2023: one symbol
repeated n times, copied."""

from __future__ import annotations

import random

from pebench.tasks.synthetic.s2s_copy import COPY_PROMPT, Example, S2SCopyTask


class RepeatSingleChar(S2SCopyTask):
    """``Copy: a…a`` (n times) → a…a, one example per symbol for the first ``count``
    symbols at every length (their split ``rsc_tr20_ts40``)."""

    name = "rsc"
    description = "Kazemnejad et al. repeat copy: one symbol n times, copied"

    def length_examples(self, n: int, count: int, rng: random.Random) -> list[Example]:
        return [(COPY_PROMPT, [a] * n, [a] * n) for a in range(count)]

    def symbols_needed(self, count: int) -> int:
        return count
