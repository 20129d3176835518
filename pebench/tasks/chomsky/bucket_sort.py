"""Bucket sort (Delétang et al. 2023, context-sensitive; ``tasks/cs/bucket_sort.py``)."""

from __future__ import annotations

import numpy as np

from pebench.tasks.chomsky.tape import TapeTask


class BucketSort(TapeTask):
    """A string over 5 symbols, sorted. Theirs: ``10204112`` → ``00111224``."""

    name = "bucket_sort"
    description = "sort a string over 5 symbols (context-sensitive)"
    level = "cs"
    input_size = 5
    output_size = 5

    def output_length(self, n: int) -> int:
        return n

    def target(self, x: np.ndarray) -> np.ndarray:
        return np.sort(x, axis=-1)
