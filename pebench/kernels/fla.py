"""flash-linear-attention's Triton kernels (``pip install 'pebench[gpu]'``, the ``fla-core``
package) behind pebench's (batch, heads, n, d) layout, on CUDA only.

Three families have a maintained kernel (checked against fla-core 0.6.0's signatures and its
``naive.py`` references, which define the same quantities as pebench's encodings):

* ``fox``: ``fla.ops.forgetting_attn.parallel_forgetting_attn(q, k, v, g)``, g the per-token
  log forget gate, (B, T, H);
* ``path``: ``fla.ops.path_attn.parallel_path_attn(q, k, v, w, beta)``, w unit-norm and w,
  beta in float32; head dims 16, 32, 64 or 128;
* ``stick_breaking``: ``fla.ops.stickbreaking_attn.parallel_stickbreaking_attn(q, k, v,
  attend_current=...)``, returning the output and the stick each query leaves.

Each is causal over the whole sequence (no padding mask), takes (B, T, H, d) tensors and
scales scores by 1/√d. Nothing here imports fla until a kernel runs on a CUDA tensor.
"""

from __future__ import annotations

import functools
import importlib
import os
import tempfile
from collections.abc import Callable
from pathlib import Path

import torch
from torch import Tensor

KERNELS = {
    "fox": ("fla.ops.forgetting_attn", "parallel_forgetting_attn"),
    "path": ("fla.ops.path_attn", "parallel_path_attn"),
    "stick_breaking": ("fla.ops.stickbreaking_attn", "parallel_stickbreaking_attn"),
}
#: head dimensions each kernel accepts (fla asserts them; below 16 Triton's dot has no tile)
HEAD_DIMS: dict[str, Callable[[int], bool]] = {
    "fox": lambda d: 16 <= d <= 256,
    "path": lambda d: d in (16, 32, 64, 128),
    "stick_breaking": lambda d: 16 <= d <= 256,
}
INSTALL = "install the GPU extra: pip install 'pebench[gpu]' (flash-linear-attention's fla-core)"


def triton_cache() -> Path:
    """Where fla's compiled kernels go unless ``TRITON_CACHE_DIR`` says otherwise: a temp dir
    (Triton's own default is under the home directory), as PyTorch's inductor does."""
    user = os.environ.get("USER") or str(os.getuid() if hasattr(os, "getuid") else "user")
    return Path(tempfile.gettempdir()) / f"pebench-triton-{user}"


@functools.cache
def _load(name: str) -> tuple[Callable[..., object] | None, str | None]:
    """fla's function for kernel ``name``, or ``None`` and why it could not be imported."""
    module, function = KERNELS[name]
    os.environ.setdefault("TRITON_CACHE_DIR", str(triton_cache()))
    try:
        return getattr(importlib.import_module(module), function), None
    except ImportError:
        return None, f"flash-linear-attention is not installed; {INSTALL}"
    except Exception as exc:  # noqa: BLE001 - a broken install must not stop auto's fallback
        first = (str(exc).splitlines() or [""])[0]  # the error is shown on one line
        return None, f"flash-linear-attention failed to import ({type(exc).__name__}: {first})"


def kernel(name: str) -> Callable[..., object] | None:
    """fla's function for kernel ``name``, or ``None`` when fla (or Triton) cannot be imported."""
    return _load(name)[0]


def why_not(name: str | None, device: torch.device, causal: bool, head_dim: int) -> str | None:
    """Why fla's kernel cannot run this model (one line), or ``None`` when it can."""
    if name not in KERNELS:
        return "this encoding has no flash-linear-attention kernel"
    if device.type != "cuda":
        return f"flash-linear-attention's kernels run on CUDA only, not {device.type}"
    if not causal:
        return "flash-linear-attention's kernels are causal only"
    if not HEAD_DIMS[name](head_dim):
        return f"flash-linear-attention's {name} kernel does not take heads of {head_dim} dims"
    return _load(name)[1]


def _fla_layout(*xs: Tensor) -> list[Tensor]:
    """(B, H, T, d) → (B, T, H, d), contiguous as fla's kernels want."""
    return [x.transpose(1, 2).contiguous() for x in xs]


def forgetting(q: Tensor, k: Tensor, v: Tensor, log_forget: Tensor) -> Tensor:
    """softmax(q·kᵀ/√d + c_i − c_j, causal)·v, c the cumulative sum of ``log_forget``
    (B, H, T): FoX through fla."""
    qt, kt, vt = _fla_layout(q, k, v)
    out = kernel("fox")(qt, kt, vt, log_forget.float().transpose(1, 2).contiguous())
    return out.transpose(1, 2)


def path(q: Tensor, k: Tensor, v: Tensor, w: Tensor, beta: Tensor) -> Tensor:
    """PaTH attention through fla: unit directions ``w`` (B, H, T, d), strengths ``beta``
    (B, H, T) in (0, 2)."""
    qt, kt, vt, wt = _fla_layout(q, k, v, w.float())
    out, _ = kernel("path")(qt, kt, vt, wt, beta.float().transpose(1, 2).contiguous())
    return out.transpose(1, 2)


def stick_breaking(q: Tensor, k: Tensor, v: Tensor, attend_current: bool) -> tuple[Tensor, Tensor]:
    """Causal stick-breaking attention through fla: the output (B, H, T, d) and the stick each
    query leaves unused, 1 − Σ_j A_ij (B, H, T)."""
    qt, kt, vt = _fla_layout(q, k, v)
    out, rest = kernel("stick_breaking")(qt, kt, vt, attend_current=attend_current)
    return out.transpose(1, 2), rest.transpose(1, 2)
