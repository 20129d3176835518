"""Exact attention one block of queries at a time, for the families whose weights take a
cumulative sum along keys (CoPE's counted positions, stick-breaking's remaining stick).

Each query's sum runs over its own row only, so splitting the queries changes nothing. With
gradients every block runs under activation checkpointing (``torch.utils.checkpoint``) and is
recomputed in backward: a layer keeps only its inputs and output, and at most one block's
(chunk, n) intermediates are alive at a time. Memory per layer is O(chunk·n) per (batch, head)
instead of a dozen (n, n) tensors, at the cost of one more forward per block in backward.
"""

from __future__ import annotations

from collections.abc import Callable

import torch
from torch import Tensor
from torch.utils.checkpoint import checkpoint

#: elements of one (batch·heads, chunk, n) intermediate: 2^26 float32 values are 256 MiB, and
#: a block holds about a dozen of them while its backward runs
CHUNK_ELEMENTS = 1 << 26
#: the smallest block of queries (a multiple of the tensor-core tile)
MIN_CHUNK = 16


def query_chunk(rows: int, n_queries: int, n_keys: int) -> int:
    """How many queries a block holds so that one (rows, chunk, n_keys) intermediate stays
    within :data:`CHUNK_ELEMENTS`: a multiple of 16, at least 16, at most ``n_queries``."""
    chunk = CHUNK_ELEMENTS // max(rows * n_keys, 1) // MIN_CHUNK * MIN_CHUNK
    return min(max(chunk, MIN_CHUNK), n_queries)


def by_query_chunks(
    rows: Callable[[int, int], Tensor], q: Tensor, n_keys: int, chunk: int | None = None
) -> Tensor:
    """``rows(start, stop)`` (the output of queries ``start:stop`` of the (batch, heads, n, d)
    ``q``, along dim −2) for every block of ``chunk`` queries (by default
    :func:`query_chunk`'s size against ``n_keys`` keys), concatenated. With gradients, blocks
    are checkpointed. One block is ``rows(0, n)`` as it stands."""
    n_queries = q.shape[-2]
    if chunk is None:
        chunk = query_chunk(q.shape[0] * q.shape[1], n_queries, n_keys)
    if chunk >= n_queries:
        return rows(0, n_queries)
    grad = torch.is_grad_enabled()
    outs = []
    for start in range(0, n_queries, chunk):
        stop = min(start + chunk, n_queries)
        if grad:
            outs.append(checkpoint(rows, start, stop, use_reentrant=False))
        else:
            outs.append(rows(start, stop))
    return torch.cat(outs, dim=-2)


def mask_rows(mask: Tensor, start: int, stop: int) -> Tensor:
    """Rows ``start:stop`` of an additive mask broadcastable to (..., n_queries, n_keys)."""
    return mask[..., start:stop, :] if mask.shape[-2] > 1 else mask


def recomputed(fn: Callable[..., Tensor], *args: Tensor, on_cpu: bool = False) -> Tensor:
    """``fn(*args)``, recomputed in backward on GPUs (a layer then keeps only its inputs, not
    its (n, n) intermediates) and run as it stands on CPU (unless ``on_cpu``) or without
    gradients. For dense references that cannot be split by queries (PaTH's solve)."""
    cpu = args[0].device.type == "cpu" and not on_cpu
    if cpu or not torch.is_grad_enabled():
        return fn(*args)
    return checkpoint(fn, *args, use_reentrant=False)
