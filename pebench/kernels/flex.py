"""Score biases through FlexAttention (PyTorch's ``torch.nn.attention.flex_attention``).

The bias reaches the kernel as a ``score_mod`` over small captured tensors, never as a
(batch, heads, T, T) tensor when the encoding gives an :class:`~pebench.kernels.bias.OffsetTable`
(ALiBi, T5, KERPLE, dynamic bias, FIRE below its threshold): the kernel adds
``values[h, q_pos − k_pos − low]``, and FlexAttention's backward sums the gradient into the
table. Other biases (FIRE past its threshold, user encodings that only give
``attention_bias``) are indexed from their dense tensor.

Shapes are bounded so the compiled kernel does not recompile per sequence length: the
sequence is padded up to a multiple of :data:`BLOCK` (FlexAttention's block size; the
block mask hides the padded keys, and padded positions repeat the last one so they index the
table in range), and the offset table is padded the same way. Block masks are cached per
(causality, length) when no key is padded. FlexAttention is not covered by autocast, so q,
k and v are cast to the autocast dtype; float32 kernels get smaller tiles (``kernel_options``)
to fit Hopper's shared memory. On CPU the eager forward serves the tests that pin this path
to SDPA (FlexAttention has no CPU backward).
"""

from __future__ import annotations

import json
import os
import warnings
from typing import Any

import torch
import torch.nn.functional as F
from torch import Tensor
from torch.nn.attention import flex_attention as flex

from pebench.kernels.bias import BucketBias, OffsetTable, is_contiguous_range

#: FlexAttention's sparse block size; sequences and tables are padded to a multiple of it
BLOCK = 128
#: block masks kept for unpadded batches, one per (causality, length, device)
BLOCK_MASK_CACHE = 64
#: smaller tiles for float32 kernels, whose default tiles overflow Hopper's 227 KiB of
#: shared memory; override with PEBENCH_FLEX_KERNEL_OPTIONS (a JSON object)
FLOAT32_KERNEL_OPTIONS: dict[str, Any] = {
    "BLOCK_M": 64,
    "BLOCK_N": 64,
    "num_stages": 2,
    "BLOCK_M1": 32,
    "BLOCK_N1": 64,
    "BLOCK_M2": 64,
    "BLOCK_N2": 32,
}

#: compiled FlexAttention variants one process may hold (dynamo's default is 8)
RECOMPILE_LIMIT = 64

_compiled = None
_block_masks: dict[tuple, flex.BlockMask] = {}


def padded_length(n: int) -> int:
    """``n`` rounded up to a multiple of :data:`BLOCK`."""
    return -(-n // BLOCK) * BLOCK


def compute_dtype(q: Tensor) -> torch.dtype:
    """The dtype the kernel runs in: autocast's, when autocast is on for q's device."""
    if torch.is_autocast_enabled(q.device.type):
        return torch.get_autocast_dtype(q.device.type)
    return q.dtype


def kernel_options(dtype: torch.dtype, device: torch.device) -> dict[str, Any] | None:
    """Tile sizes for the CUDA kernel (``PEBENCH_FLEX_KERNEL_OPTIONS`` overrides)."""
    if device.type != "cuda":
        return None
    override = os.environ.get("PEBENCH_FLEX_KERNEL_OPTIONS")
    if override:
        return json.loads(override)
    return dict(FLOAT32_KERNEL_OPTIONS) if dtype == torch.float32 else None


def _kernel(device: torch.device):
    """FlexAttention compiled once with static shapes (CUDA), or eager (CPU, forward only)."""
    global _compiled
    if device.type != "cuda":
        return None
    if _compiled is None:
        # One process may meet more than dynamo's default 8 shapes (a sweep worker training
        # several tasks, the cuda test session): past that limit torch silently falls back
        # to the unfused eager kernel. The cuda tests failed that way on an H200 (suspected;
        # not yet re-run with this limit).
        config = torch._dynamo.config
        config.recompile_limit = max(config.recompile_limit, RECOMPILE_LIMIT)
        _compiled = torch.compile(flex.flex_attention, dynamic=False)
    return _compiled


def _pad_rows(x: Tensor, size: int, dim: int) -> Tensor:
    """Pad ``x`` with zeros along ``dim`` up to ``size``."""
    extra = size - x.shape[dim]
    if extra == 0:
        return x
    pad = [0, 0] * (x.dim() - 1 - dim % x.dim()) + [0, extra]
    return F.pad(x, pad)


def _repeat_last(positions: Tensor, size: int) -> Tensor:
    """Positions (rows, n) padded to ``size`` by repeating the last one."""
    extra = size - positions.shape[-1]
    return torch.cat([positions, positions[:, -1:].expand(-1, extra)], dim=-1)


#: opt in (``1``) to score_mods that take a pair's offset as q_idx − kv_idx when positions
#: are the default shared row, skipping two position lookups per score; off until timed on a
#: GPU (the general form has run on an H200)
SHARED_OFFSETS_ENV = "PEBENCH_FLEX_SHARED_OFFSETS"


def _offset_index(low: int, entries: int, positions: Tensor, size: int):
    """``index(b, q_idx, kv_idx)``: where a pair's offset d falls in a table over the offsets
    ``low .. low + entries − 1`` (d − low), for sequences padded to ``size``.

    In general the offset is looked up from ``positions`` (padded by repeating the last, so
    the index stays in range). Under ``PEBENCH_FLEX_SHARED_OFFSETS=1`` and the default
    positions it is q_idx − kv_idx, clamped into the table over the padded rows and columns
    (masked anyway), with its bounds as tensors: Python numbers that change with the length
    would recompile the kernel."""
    if os.environ.get(SHARED_OFFSETS_ENV) == "1" and is_contiguous_range(positions):
        device = positions.device
        first = torch.tensor(low, device=device)
        zero = torch.zeros((), dtype=torch.long, device=device)
        last = torch.tensor(entries - 1, device=device)

        def shared_index(b, q_idx, kv_idx):
            return torch.clamp(q_idx - kv_idx - first, zero, last)

        return shared_index
    key = _repeat_last(positions, size)
    query = key - low
    rows = positions.shape[0] > 1

    def looked_up_index(b, q_idx, kv_idx):
        row = b if rows else 0
        return query[row, q_idx] - key[row, kv_idx]

    return looked_up_index


def _offset_mod(table: OffsetTable, positions: Tensor, size: int):
    values = _pad_rows(table.values, padded_length(table.values.shape[-1]), 1)
    index = _offset_index(table.low, table.values.shape[-1], positions, size)

    def score_mod(score, b, h, q_idx, kv_idx):
        return score + values[h, index(b, q_idx, kv_idx)]

    return score_mod


def _bucket_mod(bias: BucketBias, positions: Tensor, size: int):
    scores = _pad_rows(bias.scores, size, 2)
    buckets = _pad_rows(bias.buckets, padded_length(bias.buckets.shape[0]), 0)
    index = _offset_index(bias.low, bias.buckets.shape[0], positions, size)
    batched = scores.shape[0] > 1

    def score_mod(score, b, h, q_idx, kv_idx):
        bucket = buckets[index(b, q_idx, kv_idx)]
        return score + scores[b if batched else 0, h, q_idx, bucket]

    return score_mod


def _dense_mod(bias: Tensor, size: int):
    bias = _pad_rows(_pad_rows(bias, size, 2), size, 3)
    batched, per_head = bias.shape[0] > 1, bias.shape[1] > 1

    def score_mod(score, b, h, q_idx, kv_idx):
        return score + bias[b if batched else 0, h if per_head else 0, q_idx, kv_idx]

    return score_mod


def _block_mask(
    causal: bool, padding: Tensor | None, n: int, size: int, device: torch.device
) -> flex.BlockMask:
    """Causal and padded keys hidden; keys past ``n`` (the length padding) always hidden."""
    if padding is not None:
        pads = torch.cat(
            [padding, padding.new_ones(padding.shape[0], size - n)], dim=-1
        )  # fmt: skip

        def padded_mod(b, h, q_idx, kv_idx):
            keep = ~pads[b, kv_idx]
            return keep & (kv_idx <= q_idx) if causal else keep

        return flex.create_block_mask(padded_mod, pads.shape[0], None, size, size, device=device)
    key = (causal, n, size, str(device))
    if key not in _block_masks:
        length = torch.tensor(n, device=device)  # a tensor, so a new length is no new kernel

        def mask_mod(b, h, q_idx, kv_idx):
            keep = kv_idx < length
            return keep & (kv_idx <= q_idx) if causal else keep

        if len(_block_masks) >= BLOCK_MASK_CACHE:
            _block_masks.clear()
        _block_masks[key] = flex.create_block_mask(mask_mod, None, None, size, size, device=device)
    return _block_masks[key]


def flex_attention(
    q: Tensor,
    k: Tensor,
    v: Tensor,
    causal: bool,
    padding: Tensor | None = None,
    table: OffsetTable | None = None,
    positions: Tensor | None = None,
    bias: Tensor | None = None,
    buckets: BucketBias | None = None,
) -> Tensor:
    """softmax(q·kᵀ/√d + bias, causal and padded keys masked)·v of (batch, heads, n, d)
    tensors through FlexAttention.

    The bias is ``table`` or ``buckets`` indexed by ``positions`` (batch or 1, n), or a dense
    ``bias`` broadcastable to (batch, heads, n, n), or none; ``padding`` (batch, n) is True at
    padded keys. The output is in the kernel's dtype (the autocast dtype under autocast).
    """
    n = q.shape[-2]
    if k.shape[-2] != n:
        raise ValueError("the FlexAttention path takes whole sequences (q_len = k_len)")
    size = padded_length(n)
    dtype = compute_dtype(q)
    q, k, v = (_pad_rows(x.to(dtype), size, 2) for x in (q, k, v))
    score_mod = None
    if (table is not None or buckets is not None) and positions is None:
        raise ValueError("an offset table needs the positions it was computed for")
    if table is not None:
        score_mod = _offset_mod(table, positions, size)
    elif buckets is not None:
        score_mod = _bucket_mod(buckets, positions, size)
    elif bias is not None:
        score_mod = _dense_mod(bias, size)
    block_mask = _block_mask(causal, padding, n, size, q.device)
    kernel = _kernel(q.device)
    if kernel is not None:
        out = kernel(
            q, k, v, score_mod=score_mod, block_mask=block_mask,
            kernel_options=kernel_options(dtype, q.device),
        )  # fmt: skip
    else:
        with warnings.catch_warnings():  # the unfused eager path is the intended CPU behaviour
            warnings.simplefilter("ignore", UserWarning)
            out = flex.flex_attention(q, k, v, score_mod=score_mod, block_mask=block_mask)
    return out[..., :n, :]
