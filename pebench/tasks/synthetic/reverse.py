"""Reverse: output the input string backwards."""

from torch import Tensor

from pebench.tasks.synthetic.sequence import SequenceTask


class Reverse(SequenceTask):
    """y = x_n … x_1."""

    name = "reverse"
    description = "reverse the input string: y = x_n ... x_1"

    def target(self, x: Tensor) -> Tensor:
        return x.flip(-1)
