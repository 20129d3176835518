"""Every built-in encoding names the kernel that really runs it (metrics.json's and
``pebench bench``'s ``attention_path``), never a generic "own"."""

from __future__ import annotations

import pytest
import torch

from pebench import encodings
from pebench.backbone import Transformer
from pebench.encodings.base import ModelDims
from pebench.kernels.dispatch import OWN_PATHS, own_path

CPU = torch.device("cpu")
KNOWN = {"sdpa", "flex", "fla", *(name for names in OWN_PATHS.values() for name in names)}


@pytest.mark.parametrize("name", list(encodings.available()))
def test_every_encoding_names_the_kernel_it_runs_on_cpu(name: str) -> None:
    cls = encodings.get(name)
    for causal in (True, False):
        if not causal and not cls.supports_bidirectional:
            continue
        dims = ModelDims(d_model=16, num_heads=2, num_layers=1, causal=causal)
        path = Transformer(11, dims, cls(dims)).attention_path(CPU)
        assert path != "own" and path in KNOWN, (name, causal, path)


def test_own_paths_follow_the_device() -> None:
    cuda = torch.device("cuda")  # a device object only
    assert own_path("stick_breaking", CPU, True) == "naive"
    assert own_path("stick_breaking", cuda, True) == "chunked"
    assert own_path("cope", CPU, True, torch.bfloat16) == "chunked"
    assert own_path("path", cuda, True) == "naive-recomputed"
    assert own_path(None, CPU, True) == "own"  # a user's encoding of no known family
    for family, names in OWN_PATHS.items():
        for device in (CPU, cuda):
            assert own_path(family, device, True) in names, family
