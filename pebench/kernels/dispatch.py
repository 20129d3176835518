"""The one place that decides how attention with a score bias runs.

Paths: ``sdpa`` (PyTorch's SDPA with one additive mask; on CPU the fused kernels of
:mod:`pebench.kernels.cpu_blocks` when the bias needs a gradient) and ``flex``
(FlexAttention with the bias in a ``score_mod``, :mod:`pebench.kernels.flex`). Encodings
that compute attention themselves (``attend``) run their own family's path, named
``own``. The choice depends on ``--model.attention``, the device and grad mode.
"""

from __future__ import annotations

from typing import Literal

import torch

from pebench.errors import PebenchError

Path = Literal["sdpa", "flex", "own"]

FLEX_ON_CPU = (
    "FlexAttention has no backward on CPU; train with --model.attention sdpa (or auto) on CPU"
)
#: the smallest head dimension FlexAttention's compiled kernels take (seen on an H200, torch
#: 2.11: "embedding dimension of the query, key, and value must be at least 16")
FLEX_MIN_HEAD_DIM = 16


def score_bias_path(
    backend: str, device: torch.device, own_attention: bool, biased: bool, head_dim: int
) -> Path:
    """The path for an encoding on ``device`` under ``--model.attention backend``: ``auto``
    is FlexAttention on CUDA for encodings that add a score bias (``biased``) with heads of
    at least 16 dimensions, SDPA otherwise. Forcing ``flex`` where it cannot run (CPU with
    gradients, smaller heads on CUDA) is refused."""
    if own_attention:
        return "own"
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

