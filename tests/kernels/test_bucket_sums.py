"""Bucketed relative scores without scatter_add on GPUs: sums over runs of a monotone bucket
index (prefix sums) equal scatter_add, and the gather whose backward uses them gives
autograd's gradients. Run here on CPU by asking for the run form explicitly."""

from __future__ import annotations

import pytest
import torch

from pebench.kernels.bias import BucketGather, _gather, bucket_sums, monotone


def _index(kind: str, batch: int = 1, n: int = 12) -> torch.Tensor:
    i = torch.arange(n)
    offsets = i[:, None] - i[None, :]  # i − j: falls along each row
    if kind == "shaw":  # clipped j − i, shifted to 0 .. 2K (ascending along keys)
        rows = (-offsets).clamp(-3, 3) + 3
    elif kind == "txl":  # distances i − j (descending along keys)
        rows = offsets + n - 1
    else:  # no order
        rows = torch.randint(0, 7, (n, n), generator=torch.Generator().manual_seed(0))
    return rows.expand(batch, n, n).clone()


@pytest.mark.parametrize("kind,direction", [("shaw", 1), ("txl", -1), ("random", 0)])
def test_monotone_names_the_direction(kind: str, direction: int) -> None:
    assert monotone(_index(kind)) == direction


@pytest.mark.parametrize("kind", ["shaw", "txl", "random"])
@pytest.mark.parametrize("batch", [1, 2])
def test_run_sums_equal_scatter_add(kind: str, batch: int) -> None:
    index = _index(kind, batch)
    n_buckets = int(index.max()) + 2  # one bucket no pair uses
    values = torch.randn(2, 3, 12, 12, dtype=torch.float64)
    want = torch.zeros(2, 3, 12, n_buckets, dtype=torch.float64).scatter_add_(
        -1, index.unsqueeze(1).expand(2, 3, 12, 12), values
    )
    torch.testing.assert_close(bucket_sums(values, index, n_buckets, runs=True), want)
    torch.testing.assert_close(bucket_sums(values, index, n_buckets, runs=False), want)


@pytest.mark.parametrize("kind", ["shaw", "txl", "random"])
@pytest.mark.parametrize("shared", [True, False], ids=["shared-scores", "per-row-scores"])
def test_bucket_gather_has_autograds_gradient(kind: str, shared: bool) -> None:
    index = _index(kind, batch=2)
    n_buckets = int(index.max()) + 1
    scores = torch.randn(1 if shared else 2, 3, 12, n_buckets, dtype=torch.float64)
    weight = torch.randn(2, 3, 12, 12, dtype=torch.float64)
    grads = []
    for fn in (BucketGather.apply, _gather):
        leaf = scores.clone().requires_grad_()
        out = fn(leaf, index)
        (out * weight).sum().backward()
        grads.append((out.detach(), leaf.grad))
    torch.testing.assert_close(grads[0], grads[1])
