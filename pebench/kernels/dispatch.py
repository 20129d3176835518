"""How attention runs on a device: :func:`attention_path` chooses the path of a model's
encoding, :func:`own_path` the kernel of an encoding family that computes attention itself,
and :func:`bias_by_rows`, :func:`fused_rotary` and :func:`fused_adamw` the other kernels a
device takes. The kernels act on these choices, so what metrics.json and ``pebench bench``
record is what ran.

Paths: ``sdpa`` (PyTorch's SDPA with the mask and any score bias; on CPU the fused kernels of
:mod:`pebench.kernels.cpu_blocks` when the bias needs a gradient), ``flex`` (FlexAttention
with the bias in a ``score_mod``, :mod:`pebench.kernels.flex`), ``fla``
(flash-linear-attention's Triton kernel of a family, :mod:`pebench.kernels.fla`), and the
own kernels of the families that compute attention themselves (:data:`OWN_PATHS`). The
choice depends on ``--model.attention``, the device, grad mode and what is installed.
"""

from __future__ import annotations

import os

import torch
from torch import Tensor

from pebench.errors import PebenchError
from pebench.kernels import fla

Path = str

#: the kernels an encoding family that computes attention itself may run (besides ``fla``):
#: fox: the gates folded into SDPA's q·k (causal) or the dense reference (bidirectional);
#: path: the dense solve, recomputed in backward on GPUs; stick_breaking and cope: the
#: reference (cope: a CPU block kernel) or blocks of queries, checkpointed; buckets (Shaw,
#: Transformer-XL): the CPU bucket kernel or a gathered bias through SDPA; bucket_values
#: (Shaw's relative values): an explicit softmax; polar (PoPE): polar q and k through SDPA
OWN_PATHS = {
    "fox": ("sdpa-gated", "naive"),
    "path": ("naive", "naive-recomputed"),
    "stick_breaking": ("naive", "chunked"),
    "cope": ("cpu-blocks", "chunked"),
    "buckets": ("cpu-blocks", "sdpa-buckets"),
    "bucket_values": ("naive-values",),
    "polar": ("sdpa-polar",),
}

FLEX_ON_CPU = (
    "FlexAttention has no backward on CPU; train with --model.attention sdpa (or auto) on CPU"
)
#: the smallest head dimension FlexAttention's compiled kernels take (seen on an H200, torch
#: 2.11: "embedding dimension of the query, key, and value must be at least 16")
FLEX_MIN_HEAD_DIM = 16


def own_path(
    family: str | None, device: torch.device, causal: bool, dtype: torch.dtype = torch.float32
) -> Path:
    """The kernel an encoding family that computes attention itself runs on ``device`` when
    it does not take fla's (:data:`OWN_PATHS`); ``own`` for a family pebench does not know
    (a user's encoding)."""
    cpu = device.type == "cpu"
    if family == "fox":
        return "sdpa-gated" if causal else "naive"
    if family == "path":
        return "naive" if cpu else "naive-recomputed"
    if family == "stick_breaking":
        return "naive" if cpu else "chunked"
    if family == "cope":
        return "cpu-blocks" if cpu and dtype == torch.float32 else "chunked"
    if family == "buckets":
        return "cpu-blocks" if cpu else "sdpa-buckets"
    if family == "bucket_values":
        return "naive-values"
    if family == "polar":
        return "sdpa-polar"
    return "own"


def attention_path(
    backend: str,
    device: torch.device,
    own_attention: bool,
    biased: bool,
    head_dim: int,
    kernel: str | None = None,
    causal: bool = True,
    family: str | None = None,
) -> Path:
    """The path for an encoding on ``device`` under ``--model.attention backend``: ``auto``
    is FlexAttention on CUDA for encodings that add a score bias (``biased``) with heads of
    at least 16 dimensions, SDPA otherwise; for encodings with their own attention, their
    fla ``kernel`` where it runs (CUDA, causal, a head size it takes, fla installed), else
    their ``family``'s own kernel (:func:`own_path`). Forcing ``flex`` or ``fla`` where it
    cannot run is refused in one line."""
    if backend == "fla":
        reason = fla.why_not(kernel, device, causal, head_dim)
        if reason is not None:
            raise PebenchError(f"--model.attention fla: {reason}; use --model.attention auto")
        return "fla"
    if own_attention:
        fused = backend == "auto" and fla.why_not(kernel, device, causal, head_dim) is None
        return "fla" if fused else own_path(family, device, causal)
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
