"""The encoding zoo pinned to its papers: each value recomputed independently here."""

from __future__ import annotations

import math

import pytest
import torch

from pebench import encodings
from pebench.backbone import Transformer
from pebench.encodings.alibi import ALiBi, alibi_slopes
from pebench.encodings.base import AttentionMask, ModelDims
from pebench.encodings.cope import CoPE
from pebench.encodings.fire import FIRE
from pebench.encodings.kerple_log import KerpleLog
from pebench.encodings.kerple_power import KerplePower
from pebench.encodings.rope import RoPE
from pebench.encodings.shaw import Shaw
from pebench.encodings.sinusoidal import sinusoid_table
from pebench.encodings.t5 import T5Bias, t5_buckets
from pebench.encodings.transformer_xl import TransformerXL
from pebench.encodings.xpos import XPos
from pebench.errors import PebenchError

CAUSAL = ModelDims(d_model=16, num_heads=2, num_layers=2, causal=True)
BIDIR = ModelDims(d_model=16, num_heads=2, num_layers=2, causal=False)


def t5_bucket_reference(
    key_minus_query: int, bidirectional: bool, buckets: int, max_dist: int
) -> int:
    """Mesh TensorFlow's _relative_position_bucket, in plain Python."""
    n = -key_minus_query
    ret = 0
    if bidirectional:
        buckets //= 2
        ret += buckets if n < 0 else 0
        n = abs(n)
    else:
        n = max(n, 0)
    exact = buckets // 2
    if n < exact:
        return ret + n
    large = exact + int(math.log(n / exact) / math.log(max_dist / exact) * (buckets - exact))
    return ret + min(large, buckets - 1)


DISTANCES = [-300, -128, -100, -40, -17, -16, -9, -8, -7, -1, 0, 1, 5, 8, 15, 16, 50, 127, 500]


@pytest.mark.parametrize("bidirectional", [True, False])
def test_t5_bucket_ids(bidirectional: bool) -> None:
    got = t5_buckets(torch.tensor(DISTANCES), bidirectional, 32, 128).tolist()
    want = [t5_bucket_reference(d, bidirectional, 32, 128) for d in DISTANCES]
    assert got == want
    if bidirectional:  # the two directions use disjoint halves of the buckets
        assert got[DISTANCES.index(1)] >= 16 and got[DISTANCES.index(-1)] < 16


def test_t5_bias_is_table_lookup_shared_by_layers() -> None:
    enc = T5Bias(CAUSAL, num_buckets=8, max_distance=20)
    pos = torch.arange(10).unsqueeze(0)
    bias = enc.attention_bias(pos, pos)
    for i, j in [(9, 0), (5, 5), (7, 3)]:
        bucket = t5_bucket_reference(j - i, False, 8, 20)
        assert torch.equal(bias[0, :, i, j], enc.bias.weight[bucket])


def test_t5_bias_table_starts_at_the_requested_scale() -> None:
    """0.02 by default; init_std = d_model^-1/2 reproduces T5's own initialization (Hugging
    Face's T5PreTrainedModel._init_weights), 0.125 at d_model 64."""
    torch.manual_seed(0)
    dims = ModelDims(d_model=64, num_heads=64, num_layers=1, causal=True)
    default = T5Bias(dims, num_buckets=256, max_distance=512).bias.weight
    t5 = T5Bias(dims, num_buckets=256, max_distance=512, init_std=64**-0.5).bias.weight
    assert default.std().item() == pytest.approx(0.02, rel=0.03)  # 16,384 draws
    assert t5.std().item() == pytest.approx(0.125, rel=0.03)
    with pytest.raises(PebenchError, match="init_std must be >= 0"):
        T5Bias(dims, init_std=-1.0)


def test_alibi_directional_tells_left_from_right() -> None:
    dims = ModelDims(d_model=32, num_heads=8, num_layers=1, causal=False)
    pos = torch.arange(5).unsqueeze(0)
    slopes = alibi_slopes(8)
    directional = ALiBi(dims, bidirectional="directional").attention_bias(pos, pos)[0]
    symmetric = ALiBi(dims).attention_bias(pos, pos)[0]  # the literature's form is the default
    for h in range(8):
        assert directional[h, 4, 1].item() == pytest.approx(-slopes[h] * 3)  # key 3 to the left
        assert directional[h, 1, 4].item() == pytest.approx(-slopes[7 - h] * 3)  # to the right
        assert symmetric[h, 1, 4].item() == pytest.approx(-slopes[h] * 3)
    assert not torch.allclose(directional, directional.transpose(-1, -2))


def test_kerple_biases() -> None:
    pos = torch.arange(6).unsqueeze(0)
    log_bias = KerpleLog(CAUSAL, init_r1=2.0, init_r2=0.5).attention_bias(pos, pos)
    power_bias = KerplePower(CAUSAL, init_r1=2.0, init_r2=0.5).attention_bias(pos, pos)
    assert log_bias[0, 0, 5, 1].item() == pytest.approx(-2.0 * math.log(1 + 0.5 * 4))
    assert power_bias[0, 1, 5, 1].item() == pytest.approx(-2.0 * 4**0.5)
    assert power_bias[0, 0, 3, 3].item() == 0


@pytest.mark.parametrize("limit", [4.0, 512.0])  # queries past L, and all below L (table path)
def test_fire_normalizes_log_distance_by_query_position(limit: float) -> None:
    enc = FIRE(CAUSAL, init_c=0.5, init_L=limit)
    pos = torch.arange(8).unsqueeze(0)
    bias = enc.attention_bias(pos, pos)
    for i, j in [(7, 2), (3, 1), (6, 6)]:
        x = math.log(0.5 * (i - j) + 1) / math.log(0.5 * max(limit, i) + 1)
        assert torch.allclose(bias[0, :, i, j], enc.mlp(torch.tensor([x])), atol=1e-6)


def test_rope_partial_and_interleaved() -> None:
    dims = ModelDims(d_model=16, num_heads=2, num_layers=1, causal=True)  # head_dim 8
    x = torch.arange(1.0, 9.0).view(1, 1, 1, 8)
    p, base = 2, 100.0
    quarter = RoPE(dims, base=base, fraction=0.25)  # one pair (x0, x1), θ_0 = 1
    rq, _ = quarter.transform_qk(x, x, torch.tensor([[p]]))
    c, s = math.cos(p), math.sin(p)
    assert rq[0, 0, 0, :2].tolist() == pytest.approx([1 * c - 2 * s, 2 * c + 1 * s], abs=1e-5)
    assert rq[0, 0, 0, 2:].tolist() == x[0, 0, 0, 2:].tolist()
    inter = RoPE(dims, base=base, interleaved=True)  # pairs (x0, x1), (x2, x3), ...
    rq, _ = inter.transform_qk(x, x, torch.tensor([[p]]))
    theta1 = base ** (-2 / 8)
    c1, s1 = math.cos(p * theta1), math.sin(p * theta1)
    assert rq[0, 0, 0, 2:4].tolist() == pytest.approx([3 * c1 - 4 * s1, 4 * c1 + 3 * s1], abs=1e-5)


def test_rope_length_extension_only_in_eval() -> None:
    dims = ModelDims(d_model=16, num_heads=2, num_layers=1, causal=True)
    pos = torch.tensor([[8]])
    plain = RoPE(dims).eval()
    pi = RoPE(dims, extension="interpolation", extension_factor=4.0)
    ntk = RoPE(dims, extension="ntk", extension_factor=4.0)
    assert torch.allclose(pi.train().angles(pos), plain.angles(pos))
    assert torch.allclose(pi.eval().angles(pos), plain.angles(torch.tensor([[2]])))
    r = 8  # rotary dims per head
    ntk_base = 10000.0 * 4.0 ** (r / (r - 2))
    want = torch.tensor([8 * ntk_base ** (-i / r) for i in range(0, r, 2)])
    assert torch.allclose(ntk.eval().angles(pos).flatten(), want)


def test_xpos_scales_scores_by_zeta_power_distance() -> None:
    dims = ModelDims(d_model=8, num_heads=1, num_layers=1, causal=True)  # head_dim 8
    enc = XPos(dims, scale_base=16.0)
    plain = RoPE(dims)
    q, k = torch.randn(1, 1, 10, 8), torch.randn(1, 1, 10, 8)
    pos = torch.arange(10).unsqueeze(0)
    xq, xk = enc.transform_qk(q, k, pos)
    rq, rk = plain.transform_qk(q, k, pos)
    zeta = (torch.arange(0, 8, 2) / 8 + 0.4) / 1.4
    for n, m in [(9, 4), (3, 3), (7, 0)]:
        factor = (zeta ** ((n - m) / 16.0)).repeat(2)  # half-split layout: pair i at i and i + 4
        want = (rq[0, 0, n] * rk[0, 0, m] * factor).sum()
        assert torch.allclose((xq[0, 0, n] * xk[0, 0, m]).sum(), want, atol=1e-5)


@pytest.mark.parametrize("dtype", [torch.float32, torch.bfloat16])
def test_xpos_far_positions_stay_finite_and_relative(dtype: torch.dtype) -> None:
    """Past position ~36k (B 512) ζ^(−n/B) overflows float32 unless the exponent is centred."""
    dims = ModelDims(d_model=16, num_heads=2, num_layers=1, causal=True)
    enc = XPos(dims)
    q, k = torch.randn(2, 2, 32, 8, dtype=dtype), torch.randn(2, 2, 32, 8, dtype=dtype)
    near = torch.arange(32).unsqueeze(0)
    xq, xk = enc.transform_qk(q, k, near + 60_000)
    assert torch.isfinite(xq).all() and torch.isfinite(xk).all()
    far_scores = (xq.float() @ xk.float().transpose(-1, -2)).tril()
    nq, nk = enc.transform_qk(q, k, near)
    near_scores = (nq.float() @ nk.float().transpose(-1, -2)).tril()
    tol = 1e-2 if dtype == torch.float32 else 0.1  # float32 angles p·θ at p = 60k: ~1e-3 rad
    assert torch.allclose(far_scores, near_scores, atol=tol, rtol=tol)


def naive_attention(q, k, v, extra_scores, causal):
    t = q.shape[-2]
    scores = q @ k.transpose(-1, -2) / math.sqrt(q.shape[-1]) + extra_scores
    if causal:
        scores = scores.masked_fill(torch.ones(t, t, dtype=torch.bool).triu(1), float("-inf"))
    return scores.softmax(-1)


@pytest.mark.parametrize("values", [False, True])
def test_shaw_matches_paper_equations(values: bool) -> None:
    torch.manual_seed(0)
    enc = Shaw(CAUSAL, max_distance=2, values=values)
    if values:
        torch.nn.init.normal_(enc.value_table)
    t, hd = 6, CAUSAL.head_dim
    q, k, v = (torch.randn(1, 2, t, hd) for _ in range(3))
    pos = torch.arange(t).unsqueeze(0)
    out = enc.attend(q, k, v, AttentionMask(None, True), pos, 1, None)
    clip = lambda d: max(-2, min(2, d)) + 2  # noqa: E731
    ak = torch.stack([torch.stack([enc.keys[1, clip(j - i)] for j in range(t)]) for i in range(t)])
    extra = torch.einsum("bhid,ijd->bhij", q, ak) / math.sqrt(hd)
    weights = naive_attention(q, k, v, extra, causal=True)
    want = weights @ v
    if values:
        av = torch.stack(
            [torch.stack([enc.value_table[1, clip(j - i)] for j in range(t)]) for i in range(t)]
        )
        want = want + torch.einsum("bhij,ijd->bhid", weights, av)
    assert torch.allclose(out, want, atol=1e-5)


@pytest.mark.parametrize("causal", [True, False], ids=["causal", "bidirectional"])
@pytest.mark.parametrize("start", [0, 3, None], ids=["plain", "shifted", "irregular"])
def test_transformer_xl_matches_paper_equation(causal: bool, start: int | None) -> None:
    """Contiguous positions take the relative-shift view, irregular ones the gather."""
    dims = CAUSAL if causal else BIDIR
    torch.manual_seed(0)
    enc = TransformerXL(dims)
    torch.nn.init.normal_(enc.u)
    torch.nn.init.normal_(enc.v)
    t, hd, h = 5, dims.head_dim, dims.num_heads
    q, k, v = (torch.randn(1, h, t, hd) for _ in range(3))
    pos = torch.tensor([[0, 2, 3, 7, 8]]) if start is None else torch.arange(t)[None] + start
    mask = AttentionMask(None, causal)
    out = enc.attend(q, k, v, mask, pos, 0, None)
    extra = torch.zeros(1, h, t, t)
    for i in range(t):
        for j in range(t):
            distance = pos[0, i] - pos[0, j]
            r = enc.project[0](sinusoid_table(distance, dims.d_model)).view(h, hd)
            b = (q[0, :, i] * r).sum(-1)
            c = (enc.u * k[0, :, j]).sum(-1)
            d = (enc.v * r).sum(-1)
            extra[0, :, i, j] = (b + c + d) / math.sqrt(hd)
    want = naive_attention(q, k, v, extra, causal=causal) @ v
    assert torch.allclose(out, want, atol=1e-5)


def test_cope_counts_gates_and_interpolates() -> None:
    torch.manual_seed(0)
    enc = CoPE(CAUSAL, npos=4)
    torch.nn.init.normal_(enc.embeddings)
    t, hd = 6, CAUSAL.head_dim
    q, k, v = (torch.randn(1, 2, t, hd) for _ in range(3))
    out = enc.attend(q, k, v, AttentionMask(None, True), torch.arange(t)[None], 0, None)
    logits = q @ k.transpose(-1, -2) / math.sqrt(hd)
    gates = torch.sigmoid(logits)
    extra = torch.full((1, 2, t, t), float("-inf"))
    for i in range(t):
        for j in range(i + 1):
            p = gates[0, :, i, j : i + 1].sum(-1).clamp(max=3)  # Σ_{k=j..i} g_ik
            lo, hi = p.floor().long(), p.ceil().long()
            e = enc.embeddings[0]  # (hd, npos)
            qi = q[0, :, i]
            e_lo = torch.stack([qi[h] @ e[:, lo[h]] for h in range(2)])
            e_hi = torch.stack([qi[h] @ e[:, hi[h]] for h in range(2)])
            extra[0, :, i, j] = e_hi * (p - p.floor()) + e_lo * (1 - (p - p.floor()))
    want = (logits + extra).softmax(-1) @ v
    assert torch.allclose(out, want, atol=1e-5)


RELATIVE = sorted(n for n, c in encodings.available().items() if c.relative)


@pytest.mark.parametrize("name", RELATIVE)
def test_attention_translation_invariance_bidirectional(name: str) -> None:
    """Relative encodings usable bidirectionally are shift invariant there too."""
    cls = encodings.get(name)
    if not cls.supports_bidirectional:
        pytest.skip("causal-only encoding")
    torch.manual_seed(0)
    model = Transformer(11, BIDIR, cls(BIDIR)).eval()
    x = torch.randint(0, 11, (2, 9))
    base = torch.arange(9).expand(2, 9)
    assert torch.allclose(model(x, positions=base), model(x, positions=base + 11), atol=1e-4)


def test_zoo_has_at_least_fourteen_encodings() -> None:
    assert len(encodings.available()) >= 14


@pytest.mark.parametrize(
    ("causal", "buckets", "max_distance"), [(True, 64, 20), (True, 32, 16), (False, 32, 8)]
)
def test_t5_rejects_max_distance_inside_the_exact_range(
    causal: bool, buckets: int, max_distance: int
) -> None:
    dims = CAUSAL if causal else BIDIR
    with pytest.raises(PebenchError, match="max_distance .* must exceed"):
        T5Bias(dims, num_buckets=buckets, max_distance=max_distance)


@pytest.mark.parametrize(("causal", "max_distance"), [(True, 17), (False, 9)])
def test_t5_smallest_valid_max_distance_keeps_buckets_in_range(
    causal: bool, max_distance: int
) -> None:
    enc = T5Bias(CAUSAL if causal else BIDIR, num_buckets=32, max_distance=max_distance)
    distance = torch.arange(-300, 301)
    buckets = t5_buckets(distance, not causal, 32, max_distance)
    assert int(buckets.min()) >= 0 and int(buckets.max()) == 31
    pos = torch.arange(40).unsqueeze(0)
    assert torch.isfinite(enc.attention_bias(pos, pos)).all()


@pytest.mark.parametrize("cls", [KerpleLog, KerplePower])
def test_kerple_parameters_pushed_out_of_range_still_get_gradients(cls: type) -> None:
    """Clamping inside the graph would zero the gradient of a parameter past its bound."""
    enc = cls(CAUSAL)
    with torch.no_grad():
        enc.r1.fill_(-0.5)
        enc.r2.fill_(-0.5 if cls is KerpleLog else 3.0)
    pos = torch.arange(6).unsqueeze(0)
    enc.attention_bias(pos, pos).sum().backward()
    assert float(enc.r1.detach().min()) > 0 and float(enc.r2.detach().min()) > 0  # projected
    if cls is KerplePower:
        assert float(enc.r2.detach().max()) <= 2.0
    assert (enc.r1.grad.abs() > 0).all() and (enc.r2.grad.abs() > 0).all()


def test_alibi_encoder_default_is_the_symmetric_published_form() -> None:
    dims = ModelDims(d_model=32, num_heads=8, num_layers=1, causal=False)
    pos = torch.arange(6).unsqueeze(0)
    bias = ALiBi(dims).attention_bias(pos, pos)[0]
    assert torch.equal(bias, bias.transpose(-1, -2))
    assert ALiBi(dims).variant == "symmetric"
    assert ALiBi(dims, bidirectional="directional").variant == "directional"
    assert ALiBi(ModelDims(32, 8, 1, causal=True)).variant == ""  # the paper's causal form


@pytest.mark.parametrize("causal", [True, False], ids=["causal", "bidirectional"])
def test_transformer_xl_gradients_pass_gradcheck(causal: bool) -> None:
    """Distances gathered per (i, j), clamped where a decoder masks: exact gradients."""
    dims = CAUSAL if causal else BIDIR
    torch.manual_seed(0)
    enc = TransformerXL(dims).double()
    t, hd, h = 4, dims.head_dim, dims.num_heads
    q, k, v = (torch.randn(1, h, t, hd, dtype=torch.float64, requires_grad=True) for _ in range(3))
    pos = torch.arange(t)[None]

    def run(q, k, v):
        return enc.attend(q, k, v, AttentionMask(None, causal), pos, 0, None)

    assert torch.autograd.gradcheck(run, (q, k, v))


def _cope_reference(q, k, v, table, mask, npos):
    """CoPE attention written plainly (autograd differentiates it): the oracle of the kernel."""
    t = q.shape[-2]
    logits = q @ k.transpose(-1, -2) / math.sqrt(q.shape[-1]) + mask
    gates = torch.sigmoid(logits)
    prefix = gates.cumsum(-1)
    diag = prefix.diagonal(dim1=-2, dim2=-1).unsqueeze(-1)
    gate_ii = gates.diagonal(dim1=-2, dim2=-1).unsqueeze(-1)
    j_le_i = torch.ones(t, t, dtype=torch.bool).tril()
    pos = torch.where(j_le_i, diag - prefix + gates, prefix - diag + gate_ii).clamp(max=npos - 1)
    per_position = q @ table
    frac = pos - pos.floor()
    low = per_position.gather(-1, pos.floor().long())
    high = per_position.gather(-1, pos.ceil().long())
    return (logits + high * frac + low * (1 - frac)).softmax(-1) @ v


@pytest.mark.parametrize("causal", [True, False])
@pytest.mark.parametrize("npos", [3, 64])  # 3: positions clamped
@pytest.mark.parametrize("padded", [False, True])
@pytest.mark.parametrize("rows_per_block", [1, 4, None])  # 4: blocks straddle batch rows
def test_cope_kernel_values_and_gradients_equal_the_plain_formula(
    causal: bool, npos: int, padded: bool, rows_per_block: int | None, monkeypatch
) -> None:
    from pebench.kernels import cpu_blocks as attention
    from pebench.kernels.cope import CoPEAttention

    if rows_per_block is not None:  # else every (batch row, head) pair in one block
        monkeypatch.setattr(attention, "BLOCK_ELEMENTS", rows_per_block * 7 * 7)
    torch.manual_seed(0)
    b, h, t, d = 3, 2, 7, 4
    q, k, v = (torch.randn(b, h, t, d, dtype=torch.float64, requires_grad=True) for _ in "qkv")
    table = torch.randn(d, npos, dtype=torch.float64, requires_grad=True)
    mask = torch.zeros(b, 1, t, t, dtype=torch.float64)
    if causal:
        mask = mask.masked_fill(torch.ones(t, t, dtype=torch.bool).triu(1), float("-inf"))
    if padded:
        mask[1, :, :, 5:] = float("-inf")
    out = CoPEAttention.apply(q, k, v, table, mask, causal)
    want = _cope_reference(q, k, v, table, mask, npos)
    assert torch.allclose(out, want, atol=1e-12)
    grad = torch.randn_like(out)
    got = torch.autograd.grad(out, (q, k, v, table), grad)
    expected = torch.autograd.grad(want, (q, k, v, table), grad)
    for name, a, e in zip(["q", "k", "v", "table"], got, expected, strict=True):
        assert torch.allclose(a, e, atol=1e-12), name


def test_cope_trains_through_its_kernel_with_the_same_values() -> None:
    """On CPU the encoding runs the blocked kernel, with gradients or without; both give
    the plain formula's values."""
    torch.manual_seed(0)
    enc = CoPE(BIDIR, npos=8)
    torch.nn.init.normal_(enc.embeddings)
    q, k, v = (torch.randn(2, 2, 6, BIDIR.head_dim, requires_grad=True) for _ in "qkv")
    mask = AttentionMask(None, False)
    out = enc.attend(q, k, v, mask, torch.arange(6)[None], 1, None)
    assert out.grad_fn is not None and "CoPEAttention" in type(out.grad_fn).__name__
    plain = _cope_reference(q, k, v, enc.embeddings[1], torch.zeros(6, 6), 8)
    with torch.no_grad():
        inference = enc.attend(q, k, v, mask, torch.arange(6)[None], 1, None)
    assert torch.allclose(out, plain, atol=1e-6) and torch.allclose(inference, plain, atol=1e-6)
    out.sum().backward()
    assert enc.embeddings.grad[1].abs().sum() > 0 and enc.embeddings.grad[0].abs().sum() == 0
