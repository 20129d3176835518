"""T5 relative attention bias (Raffel et al. 2020, "Exploring the Limits of Transfer Learning
with a Unified Text-to-Text Transformer")."""

from __future__ import annotations

import math

import torch
from torch import Tensor, nn

from pebench.encodings.base import ModelDims, PositionalEncoding
from pebench.encodings.relative import offset_range
from pebench.errors import PebenchError
from pebench.kernels import ranges
from pebench.kernels.bias import OffsetTable


def t5_buckets(
    distance: Tensor, bidirectional: bool, num_buckets: int = 32, max_distance: int = 128
) -> Tensor:
    """Bucket of each key−query distance: exact below num_buckets/2 (per direction), then
    logarithmic up to ``max_distance``, beyond which all share the last bucket. When
    bidirectional, the upper half of the buckets holds keys after the query."""
    n = -distance  # query − key: positive for keys in the past
    bucket = torch.zeros_like(n)
    if bidirectional:
        num_buckets //= 2
        bucket = bucket + (n < 0).long() * num_buckets
        n = n.abs()
    else:
        n = n.clamp(min=0)
    max_exact = num_buckets // 2
    log_ratio = torch.log(n.float().clamp(min=1) / max_exact) / math.log(max_distance / max_exact)
    large = (max_exact + (log_ratio * (num_buckets - max_exact)).long()).clamp(max=num_buckets - 1)
    return bucket + torch.where(n < max_exact, n, large)


class T5Bias(PositionalEncoding):
    """score(i, j) += b_h[bucket(j − i)], one learned scalar per head and bucket, shared by all
    layers (Raffel et al. 2020).

    The table starts as N(0, ``init_std``²): 0.02 by default; T5's own initialization (Mesh
    TensorFlow, Hugging Face's ``T5PreTrainedModel``) uses d_model^-½, 0.125 at d_model 64.
    """

    name = "t5"
    relative = True

    def __init__(
        self,
        dims: ModelDims,
        num_buckets: int = 32,
        max_distance: int = 128,
        init_std: float = 0.02,
    ) -> None:
        super().__init__(dims)
        exact = num_buckets // (2 if dims.causal else 4)  # exact buckets per direction
        if exact < 1:
            raise PebenchError(
                f"t5 needs at least {2 if dims.causal else 4} buckets "
                f"({'causal' if dims.causal else 'bidirectional'}), got num_buckets {num_buckets}"
            )
        if max_distance <= exact:
            raise PebenchError(
                f"t5 max_distance {max_distance} must exceed the {exact} exactly-bucketed "
                f"distances (num_buckets {num_buckets}, "
                f"{'causal' if dims.causal else 'bidirectional'}); raise max_distance above "
                f"{exact} or lower num_buckets"
            )
        if init_std < 0:
            raise PebenchError(f"t5 init_std must be >= 0 (a standard deviation), got {init_std}")
        self.num_buckets, self.max_distance = num_buckets, max_distance
        self.bias = nn.Embedding(num_buckets, dims.num_heads)
        nn.init.normal_(self.bias.weight, std=init_std)

    def offset_bias(self, q_positions: Tensor, k_positions: Tensor) -> OffsetTable:
        d = offset_range(q_positions, k_positions)
        # key − query, as in T5
        buckets = t5_buckets(-d, not self.dims.causal, self.num_buckets, self.max_distance)
        return OffsetTable(self.bias(buckets).t(), ranges.low(d))
