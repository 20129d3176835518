"""Each built-in encoding pinned to the formula of its paper."""

from __future__ import annotations

import math

import pytest
import torch

from pebench.encodings.alibi import ALiBi, alibi_slopes
from pebench.encodings.base import ModelDims
from pebench.encodings.learned import Learned
from pebench.encodings.none import NoPositionalEncoding
from pebench.encodings.rope import RoPE
from pebench.encodings.sinusoidal import Sinusoidal, sinusoid_table
from pebench.errors import PebenchError


def test_sinusoid_table_matches_vaswani() -> None:
    d = 16
    table = sinusoid_table(torch.arange(50), d)
    for p in (0, 1, 7, 49):
        for i in range(d // 2):
            angle = p / 10000 ** (2 * i / d)
            assert table[p, 2 * i].item() == pytest.approx(math.sin(angle), abs=1e-5)
            assert table[p, 2 * i + 1].item() == pytest.approx(math.cos(angle), abs=1e-5)


def test_sinusoidal_adds_table_to_embeddings(dims: ModelDims) -> None:
    x = torch.randn(2, 5, dims.d_model)
    pos = torch.tensor([[0, 1, 2, 3, 4], [10, 11, 12, 13, 14]])
    out = Sinusoidal(dims).embed(x, pos)
    assert torch.allclose(out - x, sinusoid_table(pos, dims.d_model), atol=1e-6)


def test_alibi_slopes_power_of_two() -> None:
    assert alibi_slopes(8).tolist() == pytest.approx([2.0**-k for k in range(1, 9)])
    assert alibi_slopes(4).tolist() == pytest.approx([2.0**-2, 2.0**-4, 2.0**-6, 2.0**-8])


def test_alibi_slopes_other_head_counts_follow_the_paper_rule() -> None:
    # 12 heads: the 8 slopes for 8 heads, then every other slope of the 16-head sequence.
    expected = [2.0**-k for k in range(1, 9)] + [2.0**-0.5, 2.0**-1.5, 2.0**-2.5, 2.0**-3.5]
    assert alibi_slopes(12).tolist() == pytest.approx(expected)
    assert alibi_slopes(6).tolist() == pytest.approx(
        [2.0**-2, 2.0**-4, 2.0**-6, 2.0**-8, 2.0**-1, 2.0**-3]
    )


def test_alibi_bias_is_minus_slope_times_distance() -> None:
    dims = ModelDims(d_model=32, num_heads=8, num_layers=1, causal=True)
    pos = torch.arange(6).unsqueeze(0)
    bias = ALiBi(dims).attention_bias(pos, pos)
    assert bias.shape == (1, 8, 6, 6)
    for h, m in enumerate(alibi_slopes(8).tolist()):
        assert bias[0, h, 5, 2].item() == pytest.approx(-m * 3)
        assert bias[0, h, 4, 4].item() == 0


def test_rope_rotates_each_pair_by_position_times_frequency() -> None:
    dims = ModelDims(d_model=8, num_heads=2, num_layers=1, causal=True)  # head_dim 4
    rope = RoPE(dims, base=100.0)
    q = torch.zeros(1, 1, 1, 4)
    q[..., 0] = 1.0  # first element of pair 0 (x_0, x_2)
    q[..., 1] = 1.0  # first element of pair 1 (x_1, x_3)
    p = 3
    rq, _ = rope.transform_qk(q, q, torch.tensor([[p]]))
    theta0, theta1 = 1.0, 100.0 ** (-1 / 2)
    assert rq[0, 0, 0].tolist() == pytest.approx(
        [math.cos(p * theta0), math.cos(p * theta1), math.sin(p * theta0), math.sin(p * theta1)],
        abs=1e-6,
    )


def test_rope_scores_depend_only_on_distance() -> None:
    dims = ModelDims(d_model=16, num_heads=2, num_layers=1, causal=True)
    rope = RoPE(dims)
    q, k = torch.randn(1, 2, 1, 8), torch.randn(1, 2, 1, 8)

    def score(i: int, j: int) -> torch.Tensor:
        rq, _ = rope.transform_qk(q, q, torch.tensor([[i]]))
        _, rk = rope.transform_qk(k, k, torch.tensor([[j]]))
        return (rq * rk).sum(-1)

    assert torch.allclose(score(5, 2), score(105, 102), atol=1e-4)
    assert not torch.allclose(score(5, 2), score(5, 3), atol=1e-4)


def test_rope_refuses_fewer_than_one_rotated_pair() -> None:
    with pytest.raises(PebenchError, match="fewer than one pair"):
        RoPE(ModelDims(d_model=16, num_heads=4, num_layers=1, causal=True), fraction=0.25)


def test_learned_table_refuses_positions_past_its_size(dims: ModelDims) -> None:
    enc = Learned(dims, max_positions=16)
    enc.embed(torch.zeros(1, 16, dims.d_model), torch.arange(16).unsqueeze(0))
    with pytest.raises(PebenchError, match=r"0\.\.15 but was asked for position 16"):
        enc.embed(torch.zeros(1, 17, dims.d_model), torch.arange(17).unsqueeze(0))


def test_nope_refuses_bidirectional_encoder() -> None:
    with pytest.raises(PebenchError, match="bidirectional"):
        NoPositionalEncoding(ModelDims(d_model=8, num_heads=2, num_layers=1, causal=False))
