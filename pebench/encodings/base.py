"""The positional-encoding interface every pebench encoding implements.

An encoding overrides only the hooks where it acts; each hook defaults to a no-op:

* :meth:`PositionalEncoding.embed` adds to token embeddings (absolute encodings),
* :meth:`PositionalEncoding.transform_qk` rewrites per-head queries and keys (rotary family),
* :meth:`PositionalEncoding.attention_bias` returns an additive score bias for query/key
  positions; the model builds it once per forward pass and shares it across layers. A bias
  that depends only on the offset i − j (ALiBi, T5, KERPLE, ...) is better given by
  :meth:`PositionalEncoding.offset_bias`, a per-head table over the offsets that occur:
  ``attention_bias`` follows from it, and FlexAttention indexes it inside the kernel,
* :meth:`PositionalEncoding.attend` is the escape hatch that owns the whole attention
  computation for content-dependent schemes (it also receives the layer's input).

Positions always arrive as an explicit integer tensor of shape ``(batch, length)``, so a
caller may feed shifted, randomized or padded positions; when every row holds the same
positions (the default 0..n−1) the batch dimension is 1 and hooks must broadcast it. The
model hands the encoding its dimensions as :class:`ModelDims` (first constructor argument);
options come after it.
"""

from __future__ import annotations

from collections.abc import Callable
from dataclasses import dataclass
from typing import ClassVar

import torch
from torch import Tensor, nn

from pebench.errors import PebenchError
from pebench.kernels import ranges
from pebench.kernels.bias import BucketBias, OffsetTable
from pebench.kernels.flex import flex_attention
from pebench.kernels.sdpa import attention, attention_by_rows, bucket_biased_attention


@dataclass(frozen=True)
class ModelDims:
    """The sizes of the model an encoding is built for."""

    d_model: int
    num_heads: int
    num_layers: int
    causal: bool

    @property
    def head_dim(self) -> int:
        return self.d_model // self.num_heads


@dataclass(frozen=True)
class FlexInputs:
    """What FlexAttention needs to mask and bias scores without a dense mask: causality, key
    padding, and the encoding's bias as an offset table over ``positions`` or, failing
    that, dense (broadcastable to (batch, heads, q_len, k_len))."""

    causal: bool
    padding: Tensor | None
    table: OffsetTable | None = None
    positions: Tensor | None = None
    bias: Tensor | None = None


@dataclass(frozen=True)
class AttentionMask:
    """What a query may see: an additive float mask and/or a causal flag.

    ``additive`` has shape broadcastable to ``(batch, heads, q_len, k_len)`` and already holds
    ``-inf`` where attention is forbidden plus the encoding's score bias. When it is ``None``
    and ``is_causal`` is set, causal masking still has to be applied (the fast SDPA path).
    """

    additive: Tensor | None
    is_causal: bool
    #: set instead of ``additive`` when the model routes a score bias through FlexAttention
    flex: FlexInputs | None = None
    #: the model chose the encoding's flash-linear-attention kernel (dispatch path ``fla``)
    #: and nothing but causal masking applies: ``attend`` may run it
    fused: bool = False
    #: set instead of ``additive`` when the whole mask would be too large (long sequences on a
    #: GPU): ``rows(start, stop)`` is the additive mask of queries ``start:stop``
    rows: Callable[[int, int], Tensor] | None = None

    def dense(self, q_len: int, k_len: int, dtype: torch.dtype, device: torch.device) -> Tensor:
        """The mask as one additive tensor, for encodings that compute attention themselves."""
        if self.rows is not None:
            return self.rows(0, q_len).to(dtype)
        if self.additive is not None:
            return self.additive.to(dtype)
        mask = torch.zeros(q_len, k_len, dtype=dtype, device=device)
        if self.is_causal:
            future = torch.ones(q_len, k_len, dtype=torch.bool, device=device).triu(
                k_len - q_len + 1
            )
            mask = mask.masked_fill(future, float("-inf"))
        return mask


class PositionalEncoding(nn.Module):
    """Base class: a positional encoding for a pre-LN Transformer (see the module docstring).

    Subclasses set ``name`` (the registry key), ``relative`` (attention depends only on
    position differences, so shifting every position leaves scores unchanged), where the
    encoding cannot represent every position ``max_positions``, and ``static_bias`` when
    its bias can be cached.
    """

    name: ClassVar[str]
    relative: ClassVar[bool] = False
    supports_bidirectional: ClassVar[bool] = True
    #: a causal model may decode incrementally with cached keys and values: the encoding acts
    #: through ``embed``, a per-token ``transform_qk`` and/or ``attention_bias(q, k)`` only
    kv_cache: ClassVar[bool] = True
    #: why a causal-only encoding refuses a bidirectional encoder (shown in the error)
    causal_only_reason: ClassVar[str] = (
        "without causal masking it cannot tell positions apart"
    )
    #: ``attention_bias`` depends on positions only (no parameters, no train/eval switch), so
    #: the model may cache the mask per (length, device, dtype)
    static_bias: ClassVar[bool] = False
    #: the flash-linear-attention kernel (:mod:`pebench.kernels.fla`) that computes this
    #: encoding's whole attention on CUDA, if one does
    fused_kernel: ClassVar[str | None] = None
    #: the kernel family this encoding's own ``attend`` runs (:mod:`pebench.kernels`), which
    #: names the kernel that really ran (:func:`pebench.kernels.dispatch.own_path`)
    kernel: str | None = None

    def __init__(self, dims: ModelDims) -> None:
        super().__init__()
        self.dims = dims
        #: exclusive upper bound on positions, or ``None`` when every position is valid
        self.max_positions: int | None = None
        if not dims.causal and not self.supports_bidirectional:
            raise PebenchError(
                f"encoding {self.name!r} cannot be used in a bidirectional encoder: "
                f"{self.causal_only_reason}; use a causal formulation or another encoding"
            )

    @property
    def variant(self) -> str:
        """A choice of this instance that changes what the encoding computes while its name stays
        the same (e.g. ALiBi's right-hand slopes in an encoder); recorded as
        ``encoding_variant`` in metrics.json and shown in the leaderboard. Empty when the
        instance is the published method."""
        return ""

    def check_positions(self, positions: Tensor) -> None:
        """Raise a clear error if ``positions`` fall outside what this encoding represents."""
        if self.max_positions is None or positions.numel() == 0:
            return
        ((smallest, largest),) = ranges.bounds(positions)
        if largest >= self.max_positions or smallest < 0:
            raise PebenchError(
                f"encoding {self.name!r} covers positions 0..{self.max_positions - 1} but was "
                f"asked for position {largest}; raise its max_positions option "
                f"(e.g. --encoding.max_positions {2 * (largest + 1)}) or use a relative encoding"
            )

    def embed(self, x: Tensor, positions: Tensor) -> Tensor:
        """Return token embeddings ``x`` (batch, length, d_model) with positions added."""
        return x

    def transform_qk(self, q: Tensor, k: Tensor, positions: Tensor) -> tuple[Tensor, Tensor]:
        """Return queries and keys (batch, heads, length, head_dim) carrying positions."""
        return q, k

    def offset_bias(self, q_positions: Tensor, k_positions: Tensor) -> OffsetTable | None:
        """The score bias as a per-head table over the offsets i − j these positions form
        (see :func:`~pebench.encodings.relative.offset_range`), for biases that depend on
        the offset only; ``None`` otherwise. Kernels index it without a (T × T) tensor."""
        return None

    def attention_bias(self, q_positions: Tensor, k_positions: Tensor) -> Tensor | None:
        """Additive score bias broadcastable to (batch, heads, q_len, k_len), or ``None``;
        by default the dense form of :meth:`offset_bias`."""
        table = self.offset_bias(q_positions, k_positions)
        return None if table is None else table.dense(q_positions, k_positions)

    def attend(
        self,
        q: Tensor,
        k: Tensor,
        v: Tensor,
        mask: AttentionMask,
        positions: Tensor,
        layer: int,
        x: Tensor,
    ) -> Tensor:
        """Attention output (batch, heads, length, head_dim); override for content-based schemes.

        ``x`` is the layer's normalized input (batch, length, d_model), from which q, k and v
        were projected: schemes whose position signal is computed from content (forget gates,
        Householder directions) project it themselves.
        """
        if mask.flex is not None:
            f = mask.flex
            return flex_attention(q, k, v, f.causal, f.padding, f.table, f.positions, f.bias)
        if mask.rows is not None:
            return attention_by_rows(q, k, v, mask.rows)
        return attention(q, k, v, mask.additive, mask.is_causal)

    @property
    def flex_attend(self) -> bool:
        """Whether this instance's :meth:`attend` can take FlexAttention inputs
        (``mask.flex``): set by encodings whose attention is a :class:`BucketBias` and that
        call :meth:`attend_buckets`; the model then routes them like score biases."""
        return False

    def attend_buckets(
        self, q: Tensor, k: Tensor, v: Tensor, mask: AttentionMask, positions: Tensor,
        bias: BucketBias,
    ) -> Tensor:  # fmt: skip
        """softmax(q·kᵀ/√d + bias + mask)·v with a per-query bucket bias, on the path the
        model chose: FlexAttention gathering the bucket score inside its kernel, or SDPA /
        the CPU bucket kernel with the bias gathered per pair."""
        if mask.flex is not None:
            f = mask.flex
            return flex_attention(q, k, v, f.causal, f.padding, positions=positions, buckets=bias)
        t = q.shape[-2]
        dense = mask.dense(t, t, q.dtype, q.device)
        return bucket_biased_attention(
            q, k, v, bias.scores, lambda start, stop: bias.index(positions, start, stop), dense
        )

    def extra_repr(self) -> str:
        return f"name={self.name!r}"
