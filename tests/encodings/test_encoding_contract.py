"""Contract every registered encoding must meet; a new encoding is covered automatically."""

from __future__ import annotations

import pytest
import torch

from pebench import encodings
from pebench.backbone import KVCache, Transformer, greedy_decode, recompute_decode
from pebench.encodings.base import ModelDims
from pebench.errors import PebenchError

VOCAB = 11
ENCODINGS = sorted(encodings.available())


def build(name: str, causal: bool, seed: int = 0) -> Transformer:
    torch.manual_seed(seed)
    dims = ModelDims(d_model=32, num_heads=4, num_layers=2, causal=causal)
    return Transformer(VOCAB, dims, encodings.get(name)(dims)).eval()


def tokens(batch: int = 3, length: int = 12, seed: int = 1) -> torch.Tensor:
    return torch.randint(0, VOCAB, (batch, length), generator=torch.Generator().manual_seed(seed))


def test_registry_lists_the_foundation_encodings() -> None:
    assert {"none", "sinusoidal", "learned", "rope", "alibi"} <= set(ENCODINGS)


@pytest.mark.parametrize("name", ENCODINGS)
@pytest.mark.parametrize("causal", [True, False], ids=["causal", "bidirectional"])
def test_shapes_and_finite_outputs(name: str, causal: bool) -> None:
    cls = encodings.get(name)
    if not causal and not cls.supports_bidirectional:
        with pytest.raises(PebenchError, match="bidirectional"):
            build(name, causal)
        return
    out = build(name, causal)(tokens())
    assert out.shape == (3, 12, 32)
    assert torch.isfinite(out).all()


@pytest.mark.parametrize("name", ENCODINGS)
def test_gradients_reach_encoding_parameters(name: str) -> None:
    model = build(name, causal=True).train()
    model(tokens()).square().mean().backward()
    params = list(model.encoding.named_parameters())
    for pname, param in params:
        assert param.grad is not None, f"{name}.{pname} got no gradient"
        assert torch.isfinite(param.grad).all()
        assert param.grad.abs().sum() > 0, f"{name}.{pname} got a zero gradient"
    assert model.embedding.weight.grad is not None


@pytest.mark.parametrize("name", ENCODINGS)
def test_positions_beyond_training_lengths(name: str) -> None:
    model = build(name, causal=True)
    x = tokens(batch=2, length=8)
    far = torch.arange(500, 508).expand(2, 8)
    limit = model.encoding.max_positions
    if limit is not None and limit <= 507:
        with pytest.raises(PebenchError, match="max_positions"):
            model(x, positions=far)
    else:
        assert torch.isfinite(model(x, positions=far)).all()


@pytest.mark.parametrize("name", ENCODINGS)
def test_shift_invariance_matches_declared_relativity(name: str) -> None:
    """Relative encodings: shifting every position leaves attention (so outputs) unchanged."""
    model = build(name, causal=True)
    x = tokens()
    base = torch.arange(12).expand(3, 12)
    same = torch.allclose(model(x, positions=base), model(x, positions=base + 7), atol=1e-4)
    assert same == encodings.get(name).relative


@pytest.mark.parametrize("name", ENCODINGS)
@pytest.mark.parametrize("causal", [True, False], ids=["causal", "bidirectional"])
def test_padding_does_not_change_real_tokens(name: str, causal: bool) -> None:
    if not causal and not encodings.get(name).supports_bidirectional:
        pytest.skip("encoding is causal-only")
    model = build(name, causal)
    x = tokens(batch=2, length=6)
    padded = torch.cat([x, torch.zeros(2, 4, dtype=torch.long)], dim=1)
    pad_mask = torch.zeros(2, 10, dtype=torch.bool)
    pad_mask[:, 6:] = True
    out = model(padded, padding_mask=pad_mask)
    assert torch.allclose(out[:, :6], model(x), atol=1e-5)


@pytest.mark.parametrize("name", ENCODINGS)
def test_causal_model_ignores_future_tokens(name: str) -> None:
    model = build(name, causal=True)
    x = tokens(batch=2, length=10)
    changed = x.clone()
    changed[:, 7:] = (changed[:, 7:] + 1) % VOCAB
    assert torch.allclose(model(x)[:, :7], model(changed)[:, :7], atol=1e-5)
    assert not torch.allclose(model(x)[:, 7:], model(changed)[:, 7:], atol=1e-5)


class Decoder(torch.nn.Module):
    """Backbone + a linear read-out, taking a key/value cache like the training module."""

    def __init__(self, backbone: Transformer) -> None:
        super().__init__()
        self.backbone, self.out = backbone, torch.nn.Linear(32, VOCAB)

    def forward(self, tokens: torch.Tensor, cache=None) -> torch.Tensor:
        return self.out(self.backbone(tokens, cache=cache))


@pytest.mark.parametrize("name", ENCODINGS)
def test_cached_decoding_equals_recomputing_the_prefix(name: str) -> None:
    backbone = build(name, causal=True)
    model = Decoder(backbone).eval()
    prefix = tokens(batch=3, length=7)
    full = recompute_decode(model, prefix, steps=6)
    assert torch.equal(greedy_decode(model, backbone, prefix, steps=6), full)
    if not encodings.get(name).kv_cache:
        with pytest.raises(PebenchError, match="cannot decode with a key/value cache"):
            backbone(prefix, cache=KVCache(2))
        return
    cache = KVCache(2)  # step by step, the logits match a full forward pass at every position
    sequence = torch.cat([prefix, full], dim=1)
    stepwise = [model(prefix, cache=cache)]
    stepwise += [model(sequence[:, i : i + 1], cache=cache) for i in range(7, 13)]
    assert torch.allclose(torch.cat(stepwise, dim=1), model(sequence)[:, :13], atol=1e-5)


T5_LAYER = {"d_ff": 48, "activation": "relu", "norm": "rmsnorm", "bias": False, "init": "t5"}


@pytest.mark.parametrize("name", ENCODINGS)
def test_t5_layer_options_keep_the_contract(name: str) -> None:
    """The T5-style options (d_ff, ReLU, RMS norm, no biases, T5 init with unscaled logits)
    work with every encoding: finite outputs, causality, cached decoding = recomputing."""
    torch.manual_seed(0)
    dims = ModelDims(d_model=32, num_heads=4, num_layers=2, causal=True)
    backbone = Transformer(VOCAB, dims, encodings.get(name)(dims), **T5_LAYER).eval()
    x = tokens(batch=2, length=10)
    changed = x.clone()
    changed[:, 7:] = (changed[:, 7:] + 1) % VOCAB
    out = backbone(x)
    assert torch.isfinite(out).all()
    assert torch.allclose(out[:, :7], backbone(changed)[:, :7], atol=1e-5)
    if encodings.get(name).kv_cache:
        model = Decoder(backbone).eval()
        cache = KVCache(2)
        stepwise = [model(x[:, :7], cache=cache)]
        stepwise += [model(x[:, i : i + 1], cache=cache) for i in range(7, 10)]
        assert torch.allclose(torch.cat(stepwise, dim=1), model(x), atol=1e-4)


@pytest.mark.parametrize("name", ENCODINGS)
@pytest.mark.parametrize("dtype", [torch.bfloat16, torch.float16, torch.float64], ids=str)
def test_whole_model_in_any_dtype(name: str, dtype: torch.dtype) -> None:
    """With every parameter in ``dtype`` (Lightning's ``bf16-true``, half, double), each
    encoding runs forward and backward and keeps outputs finite and in that dtype."""
    model = build(name, causal=True).train().to(dtype)
    out = model(tokens(batch=2, length=9))
    assert out.dtype == dtype
    assert torch.isfinite(out).all()
    out.float().square().mean().backward()
    grads = [p.grad for p in model.encoding.parameters()]
    assert all(g is not None and g.dtype == dtype for g in grads)
