"""The one place that decides how attention runs on a device (:func:`attention_path`), and
which other kernels a device takes (:func:`bias_by_rows`, :func:`fused_rotary`,
:func:`fused_adamw`).

Paths: ``sdpa`` (PyTorch's SDPA with one additive mask; on CPU the fused kernels of
:mod:`pebench.kernels.cpu_blocks` when the bias needs a gradient) and ``flex``
(FlexAttention with the bias in a ``score_mod``, :mod:`pebench.kernels.flex`). Encodings
that compute attention themselves (``attend``) run their own family's path, named ``own``
(the eager reference, on GPUs query-chunked where it needs a cumulative sum along keys), or
``fla``: flash-linear-attention's Triton kernel for their family (:mod:`pebench.kernels.fla`).
The choice depends on ``--model.attention``, the device, grad mode and what is installed.
"""

from __future__ import annotations

import os
from typing import Literal

import torch
from torch import Tensor

from pebench.errors import PebenchError
from pebench.kernels import fla

Path = Literal["sdpa", "flex", "own", "fla"]

FLEX_ON_CPU = (
    "FlexAttention has no backward on CPU; train with --model.attention sdpa (or auto) on CPU"
)
#: the smallest head dimension FlexAttention's compiled kernels take (seen on an H200, torch
#: 2.11: "embedding dimension of the query, key, and value must be at least 16")
FLEX_MIN_HEAD_DIM = 16


def attention_path(
    backend: str,
    device: torch.device,
    own_attention: bool,
    biased: bool,
    head_dim: int,
    kernel: str | None = None,
    causal: bool = True,
) -> Path:
    """The path for an encoding on ``device`` under ``--model.attention backend``: ``auto``
    is FlexAttention on CUDA for encodings that add a score bias (``biased``) with heads of
    at least 16 dimensions, SDPA otherwise; for encodings with their own attention, their
    fla ``kernel`` where it runs (CUDA, causal, a head size it takes, fla installed), else
    their own path. Forcing ``flex`` or ``fla`` where it cannot run is refused in one line."""
    if backend == "fla":
        reason = fla.why_not(kernel, device, causal, head_dim)
        if reason is not None:
            raise PebenchError(f"--model.attention fla: {reason}; use --model.attention auto")
        return "fla"
    if own_attention:
        fused = backend == "auto" and fla.why_not(kernel, device, causal, head_dim) is None
        return "fla" if fused else "own"
    if backend == "flex":
        if device.type == "cpu" and torch.is_grad_enabled():
            raise PebenchError(FLEX_ON_CPU)
        if device.type == "cuda" and head_dim < FLEX_MIN_HEAD_DIM:
            raise PebenchError(
                f"FlexAttention needs heads of at least {FLEX_MIN_HEAD_DIM} dimensions, this "
                f"model has {head_dim}; use --model.attention sdpa (or auto) or fewer heads"
            )
        return "flex"
    flex_fits = biased and head_dim >= FLEX_MIN_HEAD_DIM
    return "flex" if backend == "auto" and device.type == "cuda" and flex_fits else "sdpa"


#: the smallest (batch, heads, n, d) query whose rotation is compiled (a kernel compiled once
#: per process, seconds): below it, as in the reference sweep's d64 models, compiling costs
#: more than the eager kernels it saves
FUSED_ROTARY_MIN_ELEMENTS = 1 << 22


def fused_rotary(q: Tensor) -> bool:
    """Whether the rotary family rotates ``q`` and k with the compiled kernel of
    :mod:`pebench.kernels.rotary`: on CUDA, for queries of at least
    :data:`FUSED_ROTARY_MIN_ELEMENTS`, unless ``PEBENCH_FUSED_ROTARY=0``."""
    return (
        q.is_cuda
        and q.numel() >= FUSED_ROTARY_MIN_ELEMENTS
        and os.environ.get("PEBENCH_FUSED_ROTARY", "1") != "0"
    )


#: batch·heads·n·n elements of a dense bias above which GPUs build it one block of queries at a
#: time (2^31: 8 GiB in float32, reached near T = 8,192 at batch 2 and 16 heads)
DENSE_BIAS_LIMIT = 1 << 31


def bias_by_rows(device: torch.device, elements: int) -> bool:
    """Whether a dense bias or mask of ``elements`` is built and attended one block of queries
    at a time (:func:`pebench.kernels.sdpa.attention_by_rows`): on GPUs past
    :data:`DENSE_BIAS_LIMIT`; CPU runs keep their kernels."""
    return device.type != "cpu" and elements > DENSE_BIAS_LIMIT


def fused_adamw(device: torch.device) -> bool | None:
    """AdamW's ``fused`` argument on ``device``: PyTorch's fused kernel on CUDA (the whole
    update in one kernel instead of foreach's several), the default elsewhere (CPU timings
    stay as they were measured)."""
    return True if device.type == "cuda" else None
