"""Copy: output the input string unchanged."""

from torch import Tensor

from pebench.tasks.synthetic.sequence import SequenceTask


class Copy(SequenceTask):
    """y = x."""

    name = "copy"
    description = "copy the input string: y = x"

    def target(self, x: Tensor) -> Tensor:
        return x.clone()
