"""Duplicate: output the input string twice (Deletang et al. 2023, "Neural Networks and the
Chomsky Hierarchy")."""

from torch import Tensor

from pebench.tasks.synthetic.sequence import SequenceTask


class Duplicate(SequenceTask):
    """y = x x."""

    name = "duplicate"
    description = "output the input string twice: y = x x"

    def target(self, x: Tensor) -> Tensor:
        return x.repeat(1, 2)
