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


def score_bias_path(backend: str, device: torch.device, own_attention: bool) -> Path:
    """The path for an encoding on ``device`` under ``--model.attention backend``: ``auto``
    is FlexAttention on CUDA for encodings that use the standard attention, SDPA otherwise.
    Forcing ``flex`` where it cannot train (CPU with gradients) is refused."""
    if own_attention:
        return "own"
    if backend == "flex":
        if device.type == "cpu" and torch.is_grad_enabled():
            raise PebenchError(FLEX_ON_CPU)
        return "flex"
    return "flex" if backend == "auto" and device.type == "cuda" else "sdpa"

