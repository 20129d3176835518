"""The rotary family's compiled transforms (RoPE's and xPos's rotation, PoPE's polar form)
equal the eager reference, values and gradients.
On CPU it is traced with the ``aot_eager`` backend (dynamo and AOTAutograd's graphs, run
eagerly: the graph is what is pinned here, in seconds); tests/gpu/test_cuda.py pins inductor's
kernel on a GPU."""

from __future__ import annotations

import pytest
import torch

from pebench import encodings
from pebench.encodings.base import AttentionMask, ModelDims
from pebench.kernels import dispatch, rotary

COMPILED = rotary.compiled


def _force(monkeypatch, fused: bool) -> None:
    """Route the rotary family through the compiled kernels (``aot_eager``) or not."""
    monkeypatch.setattr(rotary, "fused_rotary", lambda q: fused)
    monkeypatch.setattr(rotary, "compiled", lambda fn: COMPILED(fn, "aot_eager"))


@pytest.mark.parametrize("name,options", [
    ("rope", {}),
    ("rope", {"interleaved": True}),
    ("xpos", {}),
    ("pope", {}),
])  # fmt: skip
def test_the_compiled_transform_equals_the_reference(name: str, options: dict, monkeypatch) -> None:
    dims = ModelDims(d_model=32, num_heads=2, num_layers=1, causal=True)
    torch.manual_seed(0)
    encoding = encodings.get(name)(dims, **options)
    for param in encoding.parameters():  # PoPE's phases, away from their zero init
        param.data.add_(0.3 * torch.randn_like(param))
    from torch._dynamo.utils import counters

    results, frames = [], []
    for fused in (False, True):
        _force(monkeypatch, fused)
        frames.append(counters["frames"]["ok"])
        g = torch.Generator().manual_seed(0)
        grads = []
        for length in (9, 13):  # a second length: dynamic shapes, no stale specialisation
            q, k, v = (torch.randn(2, 2, length, 16, generator=g).requires_grad_() for _ in "qkv")
            positions = torch.arange(length)[None] + 3
            if name == "pope":
                mask = AttentionMask(None, True)
                outs = [encoding.attend(q, k, v, mask, positions, 0, None)]
            else:
                outs = list(encoding.transform_qk(q, k, positions))
            sum((o * torch.linspace(-1, 1, 16)).square().sum() for o in outs).backward()
            grads += [*(o.detach() for o in outs), q.grad, k.grad]
            grads += [p.grad.clone() for p in encoding.parameters()]
            encoding.zero_grad()
        results.append(grads)
    frames.append(counters["frames"]["ok"])
    assert frames[1] == frames[0] and frames[2] > frames[1]  # only the fused pass compiled
    for ours, ref in zip(results[1], results[0], strict=True):
        torch.testing.assert_close(ours, ref)


def test_the_rotation_is_compiled_only_for_large_cuda_tensors(monkeypatch) -> None:
    big = torch.empty(1, 1, 1, dispatch.FUSED_ROTARY_MIN_ELEMENTS, device="meta")
    assert not dispatch.fused_rotary(big)  # not CUDA
    monkeypatch.setattr(torch.Tensor, "is_cuda", property(lambda self: True))
    assert dispatch.fused_rotary(big)
    assert not dispatch.fused_rotary(big[..., :-1])  # below the size that pays for compiling
    monkeypatch.setenv("PEBENCH_FUSED_ROTARY", "0")
    assert not dispatch.fused_rotary(big)
