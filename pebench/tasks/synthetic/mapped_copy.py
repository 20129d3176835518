"""Copy through a fixed per-symbol mapping: a pebench task (copy plus a learned symbol map).

It is not one of Kazemnejad et al. 2023's copy tasks: their repeat-and-change task (``rdc``)
names the replacement symbol in the prompt and repeats one symbol; see ``cmc``, ``rsc``,
``rdc`` and ``rsc2x`` for theirs.
"""

from __future__ import annotations

from typing import Any

import torch
from torch import Tensor

from pebench.tasks.synthetic.sequence import FIRST_SYMBOL, SequenceTask


class MappedCopy(SequenceTask):
    """y_i = π(x_i): copy each symbol through one fixed random permutation π of the alphabet,
    drawn from ``mapping_seed``; the model must copy positions and learn π."""

    name = "mapped_copy"
    description = "copy each symbol through a fixed permutation: y_i = pi(x_i)"

    def __init__(self, mapping_seed: int = 0, **kwargs: Any) -> None:
        """
        Args:
            mapping_seed: seed of the permutation π (the same for every run of a comparison).
            **kwargs: the options of every sequence task (formulation, lengths, alphabet).
        """
        super().__init__(**kwargs)
        self.mapping_seed = mapping_seed
        generator = torch.Generator().manual_seed(mapping_seed)
        self.permutation = torch.randperm(self.alphabet_size, generator=generator)

    def target(self, x: Tensor) -> Tensor:
        return self.permutation.to(x.device)[x - FIRST_SYMBOL] + FIRST_SYMBOL
