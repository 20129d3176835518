"""RoPE's length extensions and p-RoPE against Hugging Face transformers' reference functions.

``transformers.modeling_rope_utils`` computes the inverse frequencies of YaRN, dynamic NTK,
Llama 3 scaling and proportional (p-)RoPE as pure functions of a model config; it is a
test-only oracle here (the ``dev`` extra), compared to 1e-6.
"""

from __future__ import annotations

import math

import pytest
import torch

from pebench.encodings.base import ModelDims
from pebench.encodings.rope import RoPE
from pebench.errors import PebenchError

transformers = pytest.importorskip("transformers")
from transformers.modeling_rope_utils import ROPE_INIT_FUNCTIONS  # noqa: E402

HEAD_DIM = 32
DIMS = ModelDims(d_model=2 * HEAD_DIM, num_heads=2, num_layers=1, causal=True)
CONTEXT = 64


def reference(rope_type: str, max_positions: int, seq_len: int | None = None, **params):
    """(inverse frequencies, attention factor) from transformers for a head_dim-32 model."""
    config = transformers.LlamaConfig(
        hidden_size=DIMS.d_model,
        num_attention_heads=DIMS.num_heads,
        max_position_embeddings=max_positions,
        rope_parameters={"rope_type": rope_type, "rope_theta": 10000.0, **params},
    )
    inv_freq, factor = ROPE_INIT_FUNCTIONS[rope_type](config, "cpu", seq_len=seq_len)
    return inv_freq.float(), factor


def frequencies(enc: RoPE, length: int) -> torch.Tensor:
    """The frequencies ``enc`` uses for a sequence of ``length`` positions."""
    return enc.current_frequencies(torch.arange(length).unsqueeze(0))


@pytest.mark.parametrize("factor", [2.0, 4.0, 16.0])
def test_yarn_matches_transformers(factor: float) -> None:
    want, attention_factor = reference(
        "yarn",
        int(CONTEXT * factor),
        factor=factor,
        original_max_position_embeddings=CONTEXT,
        beta_fast=32.0,
        beta_slow=1.0,
    )
    enc = RoPE(DIMS, extension="yarn", extension_factor=factor, original_context=CONTEXT)
    assert torch.allclose(frequencies(enc.eval(), 10), want, atol=1e-6, rtol=1e-6)
    assert enc.eval_scale == pytest.approx(attention_factor, abs=1e-9)
    assert enc.eval_scale == pytest.approx(0.1 * math.log(factor) + 1)
    assert torch.equal(frequencies(enc.train(), 10), RoPE(DIMS).inv_freq)  # eval only


def test_yarn_temperature_scales_scores_by_one_over_t() -> None:
    factor = 8.0
    enc = RoPE(DIMS, extension="yarn", extension_factor=factor, original_context=CONTEXT).eval()
    q, k = torch.randn(1, 2, 5, HEAD_DIM), torch.randn(1, 2, 5, HEAD_DIM)
    pos = torch.arange(5).unsqueeze(0)
    rq, rk = enc.transform_qk(q, k, pos)
    angles = (pos.float().unsqueeze(-1) * enc.eval_inv_freq).unsqueeze(1)
    plain_q, plain_k = enc.rotate(q, angles), enc.rotate(k, angles)
    t_inv = (0.1 * math.log(factor) + 1) ** 2
    assert torch.allclose(rq @ rk.transpose(-1, -2), t_inv * plain_q @ plain_k.transpose(-1, -2))


@pytest.mark.parametrize("length", [40, 64, 65, 200, 1000])
def test_dynamic_ntk_matches_transformers_per_length(length: int) -> None:
    want, _ = reference("dynamic", CONTEXT, seq_len=length, factor=4.0)
    enc = RoPE(DIMS, extension="dynamic_ntk", extension_factor=4.0, original_context=CONTEXT)
    assert torch.allclose(frequencies(enc.eval(), length), want, atol=1e-6, rtol=1e-6)
    if length <= CONTEXT:
        assert torch.equal(frequencies(enc, length), enc.inv_freq)


@pytest.mark.parametrize(("factor", "low", "high"), [(8.0, 1.0, 4.0), (4.0, 2.0, 8.0)])
def test_llama3_matches_transformers(factor: float, low: float, high: float) -> None:
    want, _ = reference(
        "llama3",
        int(CONTEXT * factor),
        factor=factor,
        low_freq_factor=low,
        high_freq_factor=high,
        original_max_position_embeddings=CONTEXT,
    )
    enc = RoPE(
        DIMS,
        extension="llama3",
        extension_factor=factor,
        original_context=CONTEXT,
        low_freq_factor=low,
        high_freq_factor=high,
    ).eval()
    assert torch.allclose(frequencies(enc, 10), want, atol=1e-6, rtol=1e-6)
    # the three regimes all occur at this size: kept, divided by the factor, blended
    base = RoPE(DIMS).inv_freq
    assert (want == base).any() and torch.isclose(want, base / factor).any()


@pytest.mark.parametrize("proportion", [0.0, 0.25, 0.5, 0.75, 1.0])
def test_p_rope_matches_transformers_proportional(proportion: float) -> None:
    want, _ = reference("proportional", CONTEXT, partial_rotary_factor=proportion)
    enc = RoPE(DIMS, proportion=proportion)
    assert torch.allclose(frequencies(enc.train(), 10), want, atol=1e-6, rtol=1e-6)
    assert torch.allclose(frequencies(enc.eval(), 10), want, atol=1e-6, rtol=1e-6)


def test_p_rope_is_not_fraction() -> None:
    """p-RoPE keeps the full-dimension frequencies and leaves the lowest pairs unrotated;
    ``fraction`` recomputes the frequency ladder over the rotated dimensions only."""
    p_rope, partial = RoPE(DIMS, proportion=0.5), RoPE(DIMS, fraction=0.5)
    assert torch.allclose(p_rope.inv_freq[:8], RoPE(DIMS).inv_freq[:8])
    assert (p_rope.inv_freq[8:] == 0).all()
    assert partial.inv_freq.numel() == 8
    assert float(partial.inv_freq[-1]) < float(p_rope.inv_freq[7])  # reaches lower frequencies
    q = torch.randn(1, 1, 3, HEAD_DIM)
    pos = torch.tensor([[0, 5, 9]])
    rotated, _ = p_rope.transform_qk(q, q, pos)
    half = HEAD_DIM // 2  # half-split layout: pair i = (x_i, x_{i+16}); pairs 8..15 unrotated
    assert torch.equal(rotated[..., 8:half], q[..., 8:half])
    assert torch.equal(rotated[..., half + 8 :], q[..., half + 8 :])
    nope, _ = RoPE(DIMS, proportion=0.0).transform_qk(q, q, pos)
    assert torch.equal(nope, q)


@pytest.mark.parametrize(
    ("options", "message"),
    [
        ({"extension": "yarn", "extension_factor": 4.0}, "original_context"),
        ({"extension": "dynamic_ntk", "extension_factor": 2.0}, "original_context"),
        ({"extension": "llama3", "original_context": 64, "low_freq_factor": 4.0}, "llama3"),
        ({"fraction": 0.5, "proportion": 0.5}, "only one"),
        ({"proportion": 1.5}, "proportion"),
        ({"extension": "longrope"}, "extension must be one of"),
    ],
)
def test_invalid_extension_options_are_clear_errors(options: dict, message: str) -> None:
    with pytest.raises(PebenchError, match=message):
        RoPE(DIMS, **options)
