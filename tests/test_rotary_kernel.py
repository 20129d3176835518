"""The rotary family's compiled rotation equals the eager reference, values and gradients.
On CPU it is traced with the ``aot_eager`` backend (dynamo and AOTAutograd's graphs, run
eagerly: the graph is what is pinned here, in seconds); tests/test_cuda.py pins inductor's
kernel on a GPU."""

from __future__ import annotations

import pytest
import torch

from pebench import encodings
from pebench.encodings.base import ModelDims
from pebench.kernels import dispatch, rotary


@pytest.mark.parametrize("name,options", [
    ("rope", {}),
    ("rope", {"interleaved": True}),
    ("xpos", {}),
])  # fmt: skip
def test_the_compiled_rotation_equals_the_reference(name: str, options: dict, monkeypatch) -> None:
    dims = ModelDims(d_model=32, num_heads=2, num_layers=1, causal=True)
    encoding = encodings.get(name)(dims, **options)
    g = torch.Generator().manual_seed(0)
    results = []
    compiled = rotary.compiled_pair("aot_eager")
    for fused in (False, True):
        monkeypatch.setattr(rotary, "fused_rotary", lambda q, _on=fused: _on)
        monkeypatch.setattr(rotary, "compiled_pair", lambda _c=compiled: _c)
        grads = []
        for length in (9, 13):  # a second length: dynamic shapes, no stale specialisation
            q, k = (torch.randn(2, 2, length, 16, generator=g).requires_grad_() for _ in "qk")
            positions = torch.arange(length)[None] + 3
            rq, rk = encoding.transform_qk(q, k, positions)
            (rq.square().sum() + (rk * torch.linspace(-1, 1, 16)).sum()).backward()
            grads += [rq.detach(), rk.detach(), q.grad, k.grad]
        results.append(grads)
        g.manual_seed(0)
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
