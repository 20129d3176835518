"""Copy (``cmc``, "copy multi-char") of Kazemnejad et al. 2023: copy a random string over
100 symbols."""

from __future__ import annotations

import random

from pebench.tasks.synthetic.s2s_copy import COPY_PROMPT, Example, S2SCopyTask


class CopyMultiChar(S2SCopyTask):
    """``Copy: x`` → x, x uniform over 100 symbols (their split ``cmc_tr20_ts40``)."""

    name = "cmc"
    description = "Kazemnejad et al. copy: a random string over 100 symbols, copied"
    SYMBOLS = 100

    def length_examples(self, n: int, count: int, rng: random.Random) -> list[Example]:
        out = []
        for _ in range(count):
            x = [rng.randrange(self.SYMBOLS) for _ in range(n)]
            out.append((COPY_PROMPT, x, x))
        return out

    def symbols_needed(self, count: int) -> int:
        return self.SYMBOLS
