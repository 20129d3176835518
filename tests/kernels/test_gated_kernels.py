"""The gated and contextual family's fast paths against their references, on CPU: the
query-chunked CoPE and stick-breaking that GPUs run (values and every gradient, and that a
checkpointed block keeps no (n, n) tensor for backward), and flash-linear-attention's
kernels behind pebench's layout and dispatch. fla itself needs CUDA and Triton; here a stand-in
written from fla's documented semantics (its ``naive.py`` definitions, in fla's (B, T, H, d)
layout) takes its place, so the plumbing (transposes, gate and stick conventions, scale) is
what is tested. tests/gpu/test_cuda.py pins the real kernels on a GPU."""

from __future__ import annotations

import math
import os
import sys
import types
from types import SimpleNamespace

import pytest
import torch
import torch.nn.functional as F

from pebench import encodings
from pebench.encodings.base import AttentionMask, ModelDims
from pebench.errors import PebenchError
from pebench.kernels import chunked, fla
from pebench.kernels import cope as cope_kernels
from pebench.kernels import stick_breaking as sb
from pebench.kernels.dispatch import attention_path
from pebench.kernels.naive import naive_attention
from pebench.kernels.path import naive_attention as naive_path

B, H, N, D = 2, 3, 40, 8


def _qkv(seed: int = 0) -> list[torch.Tensor]:
    g = torch.Generator().manual_seed(seed)
    return [torch.randn(B, H, N, D, generator=g, dtype=torch.float64) for _ in range(3)]


def _mask(causal: bool, padded: bool) -> torch.Tensor:
    blocked = torch.zeros(B, 1, N, N, dtype=torch.bool)
    if causal:
        blocked |= torch.ones(N, N, dtype=torch.bool).triu(1)
    if padded:
        blocked[0, ..., N - 9 :] = True
    mask = torch.zeros(B, 1, N, N, dtype=torch.float64).masked_fill(blocked, float("-inf"))
    return mask if padded else mask[:1, 0, :, :][0]  # (N, N) when shared, as the model builds


def _grads(fn, tensors: list[torch.Tensor]) -> list[torch.Tensor]:
    leaves = [t.clone().requires_grad_() for t in tensors]
    out = fn(*leaves)
    (out * torch.linspace(-1, 1, out.shape[-1], dtype=out.dtype)).pow(2).sum().backward()
    return [out.detach(), *(leaf.grad for leaf in leaves)]


@pytest.mark.parametrize("causal", [True, False], ids=["causal", "bidirectional"])
@pytest.mark.parametrize("padded", [False, True], ids=["dense", "padded"])
@pytest.mark.parametrize("attend_current,remainder", [(False, False), (True, True)])
def test_chunked_stick_breaking_equals_the_reference(
    causal: bool, padded: bool, attend_current: bool, remainder: bool
) -> None:
    mask = _mask(causal, padded)

    def whole(q, k, v):
        return sb.stick_breaking_rows(q, k, v, mask, 0, causal, attend_current, remainder)

    def blocks(q, k, v):  # 16 queries a block: three blocks, the last one short
        return sb.chunked_attention(q, k, v, mask, causal, attend_current, remainder, chunk=16)

    for got, want in zip(_grads(blocks, _qkv()), _grads(whole, _qkv()), strict=True):
        torch.testing.assert_close(got, want)


@pytest.mark.parametrize("causal", [True, False], ids=["causal", "bidirectional"])
@pytest.mark.parametrize("padded", [False, True], ids=["dense", "padded"])
def test_chunked_cope_equals_the_reference(causal: bool, padded: bool) -> None:
    mask = _mask(causal, padded)
    table = torch.randn(D, 12, dtype=torch.float64, generator=torch.Generator().manual_seed(3))

    def whole(q, k, v, e):
        return cope_kernels.cope_probabilities(q, k, e, mask, causal)[-1] @ v

    def blocks(q, k, v, e):
        return cope_kernels.chunked_attention(q, k, v, e, mask, causal, chunk=16)

    got, want = _grads(blocks, [*_qkv(), table]), _grads(whole, [*_qkv(), table])
    for ours, ref in zip(got, want, strict=True):
        torch.testing.assert_close(ours, ref)


def test_blocks_are_checkpointed_with_gradients_only(monkeypatch) -> None:
    """With gradients each block runs under ``torch.utils.checkpoint`` (recomputed in
    backward, so no block's (chunk, n) intermediates are kept); without, none is."""
    calls: list[int] = []
    real = chunked.checkpoint

    def counted(fn, *args, **kwargs):
        calls.append(1)
        return real(fn, *args, **kwargs)

    monkeypatch.setattr(chunked, "checkpoint", counted)
    mask = _mask(True, False)
    q, k, v = (t.requires_grad_() for t in _qkv())
    out = sb.chunked_attention(q, k, v, mask, True, False, False, chunk=16)
    assert len(calls) == 3  # 40 queries: 16 + 16 + 8
    out.sum().backward()
    assert q.grad is not None and q.grad.abs().sum() > 0
    with torch.no_grad():
        sb.chunked_attention(q, k, v, mask, True, False, False, chunk=16)
    assert len(calls) == 3


def test_query_chunk_keeps_one_intermediate_within_its_budget(monkeypatch) -> None:
    monkeypatch.setattr(chunked, "CHUNK_ELEMENTS", 16 * 6 * 100 * 3)
    assert chunked.query_chunk(6, 1000, 100) == 48  # a multiple of 16 within the budget
    assert chunked.query_chunk(6, 20, 100) == 20  # never more than the queries
    assert chunked.query_chunk(6000, 1000, 100) == 16  # never fewer than one tile


# flash-linear-attention stand-ins: fla's definitions in its (B, T, H, d) layout


def _fla_forgetting(q, k, v, g, scale=None):
    t = q.shape[1]
    c = g.cumsum(1).transpose(1, 2)  # (B, H, T)
    scores = torch.einsum("bqhd,bkhd->bhqk", q, k) * q.shape[-1] ** -0.5
    scores = scores + c[..., :, None] - c[..., None, :]
    scores = scores.masked_fill(torch.ones(t, t, dtype=torch.bool).triu(1), float("-inf"))
    return torch.einsum("bhqk,bkhd->bqhd", scores.softmax(-1), v)


def _fla_stick_breaking(q, k, v, scale=None, attend_current=False):
    t = q.shape[1]
    z = torch.einsum("bqhd,bkhd->bhqk", q, k) * q.shape[-1] ** -0.5
    i = torch.arange(t)
    visible = i[None, :] <= i[:, None] if attend_current else i[None, :] < i[:, None]
    log_rest = F.logsigmoid(-z).masked_fill(~visible, 0.0)
    log_att = F.logsigmoid(z) + log_rest.flip(-1).cumsum(-1).flip(-1) - log_rest
    att = log_att.masked_fill(~visible, float("-inf")).exp()
    out = torch.einsum("bhqk,bkhd->bqhd", att, v)
    return out, log_rest.sum(-1).exp().transpose(1, 2)


def _fla_path(q, k, v, w, beta, g=None, scale=None):
    """Scores q_iᵀ·H_i···H_{j+1}·k_j with H_s = I − β_s·w_sw_sᵀ, products formed explicitly."""
    b, t, h, d = q.shape
    scores = torch.full((b, h, t, t), float("-inf"), dtype=q.dtype)
    eye = torch.eye(d, dtype=q.dtype)
    for i in range(t):
        row = q[:, i]  # (B, H, d): q_iᵀ, then q_iᵀH_i, q_iᵀH_iH_{i−1}, ...
        for j in range(i, -1, -1):
            scores[:, :, i, j] = (row * k[:, j]).sum(-1)
            wj = w[:, j]
            householder = eye - beta[:, j, :, None, None] * wj[..., :, None] * wj[..., None, :]
            row = torch.einsum("bhd,bhde->bhe", row, householder)
    weights = (scores * d**-0.5).softmax(-1)
    return torch.einsum("bhqk,bkhd->bqhd", weights, v), None


@pytest.fixture
def fake_fla(monkeypatch) -> dict[str, int]:
    """Installs the stand-ins as fla's modules and counts their calls."""
    calls = {name: 0 for name in fla.KERNELS}
    stand_ins = {"fox": _fla_forgetting, "path": _fla_path, "stick_breaking": _fla_stick_breaking}
    for name, (module, function) in fla.KERNELS.items():

        def counted(*args, _name=name, **kwargs):
            calls[_name] += 1
            return stand_ins[_name](*args, **kwargs)

        fake = types.ModuleType(module)
        setattr(fake, function, counted)
        monkeypatch.setitem(sys.modules, module, fake)
    fla._load.cache_clear()
    yield calls
    fla._load.cache_clear()


def _encoding(name: str, head_dim: int = 16) -> encodings.PositionalEncoding:
    dims = ModelDims(d_model=head_dim * 2, num_heads=2, num_layers=1, causal=True)
    torch.manual_seed(0)
    encoding = encodings.get(name)(dims).double()
    for param in encoding.parameters():  # trained-looking, not the zero/small inits
        param.data.add_(0.3 * torch.randn_like(param))
    return encoding


@pytest.mark.parametrize("name", sorted(fla.KERNELS))
def test_each_encoding_on_its_fla_kernel_equals_its_own_path(name: str, fake_fla) -> None:
    """The encoding's attend with the model's choice ``fused`` (the fla path) gives what its
    own path gives, values and gradients, and really calls the kernel."""
    encoding = _encoding(name)
    n, d = 7, 16
    g = torch.Generator().manual_seed(1)
    tensors = [torch.randn(2, 2, n, d, generator=g, dtype=torch.float64) for _ in range(3)]
    x = torch.randn(2, n, 2 * d, generator=g, dtype=torch.float64)
    positions = torch.arange(n)[None]

    def run(fused: bool):
        def attend(q, k, v):
            mask = AttentionMask(None, True, fused=fused)
            return encoding.attend(q, k, v, mask, positions, 0, x)

        encoding.zero_grad()
        results = _grads(attend, tensors)
        return results + [p.grad.clone() for p in encoding.parameters()]

    want = run(False)
    assert fake_fla[name] == 0
    got = run(True)
    assert fake_fla[name] == 1
    for ours, ref in zip(got, want, strict=True):  # fla takes gates and directions in float32
        torch.testing.assert_close(ours, ref, rtol=1e-5, atol=1e-6)


def test_stick_breaking_remainder_comes_from_fla_s_leftover(fake_fla) -> None:
    q, k, v = _qkv()
    mask = _mask(True, False)
    fused = SimpleNamespace(fused=True)  # the model chose fla's kernel
    got = sb.stick_breaking_attention(q, k, v, fused, True, False, True)
    want = sb.stick_breaking_rows(q, k, v, mask, 0, True, False, True)
    assert fake_fla["stick_breaking"] == 1
    torch.testing.assert_close(got, want)


def test_the_fox_stand_in_is_fox() -> None:
    """The stand-in itself against the generic reference with FoX's bias c_i − c_j."""
    q, k, v = _qkv()
    log_forget = F.logsigmoid(torch.randn(B, H, N, dtype=torch.float64))
    c = log_forget.cumsum(-1)
    causal = torch.full((N, N), float("-inf"), dtype=torch.float64).triu(1)
    want = naive_attention(q, k, v, c[..., :, None] - c[..., None, :] + causal)
    got = _fla_forgetting(*(t.transpose(1, 2) for t in (q, k, v)), log_forget.transpose(1, 2))
    torch.testing.assert_close(got.transpose(1, 2), want)


CUDA = torch.device("cuda")  # a device object only: nothing is allocated on it


def test_auto_takes_fla_on_cuda_where_it_applies(fake_fla) -> None:
    path = attention_path("auto", CUDA, True, False, 64, "stick_breaking", True)
    assert path == "fla"
    # elsewhere the family's own kernel, named as it runs (dispatch.own_path)
    sb = ("stick_breaking", "stick_breaking")
    assert attention_path("sdpa", CUDA, True, False, 64, sb[0], True, sb[1]) == "chunked"
    assert attention_path("auto", CUDA, True, False, 64, sb[0], False, sb[1]) == "chunked"
    assert attention_path("auto", CUDA, True, False, 8, sb[0], True, sb[1]) == "chunked"
    # fla's PaTH takes heads of 16/32/64/128
    assert attention_path("auto", CUDA, True, False, 48, "path", True, "path") == (
        "naive-recomputed"
    )
    assert attention_path("auto", CUDA, True, False, 64, None, True, "cope") == "chunked"
    assert attention_path("auto", CUDA, True, False, 64, None, True) == "own"  # a user's
    cpu = torch.device("cpu")
    assert attention_path("auto", cpu, True, False, 64, "fox", True, "fox") == "sdpa-gated"
    assert attention_path("auto", cpu, True, False, 64, "fox", False, "fox") == "naive"


def test_auto_without_fla_installed_keeps_the_own_path(monkeypatch) -> None:
    monkeypatch.setitem(sys.modules, "fla.ops.forgetting_attn", None)  # import fails
    fla._load.cache_clear()
    try:
        assert attention_path("auto", CUDA, True, False, 64, "fox", True, "fox") == "sdpa-gated"
        with pytest.raises(PebenchError, match=r"pip install 'pebench\[gpu\]'"):
            attention_path("fla", CUDA, True, False, 64, "fox", True)
    finally:
        fla._load.cache_clear()


def test_fla_s_compiled_kernels_are_cached_in_a_temp_dir_unless_placed(
    monkeypatch, tmp_path
) -> None:
    import tempfile

    monkeypatch.setitem(sys.modules, "fla.ops.forgetting_attn", None)
    for placed in (None, str(tmp_path / "mine")):
        if placed is None:
            monkeypatch.delenv("TRITON_CACHE_DIR", raising=False)
        else:
            monkeypatch.setenv("TRITON_CACHE_DIR", placed)
        fla._load.cache_clear()
        try:
            fla.kernel("fox")
        finally:
            fla._load.cache_clear()
        cache = os.environ["TRITON_CACHE_DIR"]
        assert cache == placed if placed else cache.startswith(tempfile.gettempdir())


@pytest.mark.parametrize(
    "device,kernel,causal,head_dim,reason",
    [
        ("cpu", "fox", True, 64, "CUDA only"),
        ("cuda", "fox", False, 64, "causal only"),
        ("cuda", "path", True, 48, "heads of 48"),
        ("cuda", None, True, 64, "no flash-linear-attention kernel"),
    ],
)
def test_forcing_fla_where_it_cannot_run_is_one_line(
    device: str, kernel: str | None, causal: bool, head_dim: int, reason: str, fake_fla
) -> None:
    with pytest.raises(PebenchError, match=reason) as error:
        attention_path("fla", torch.device(device), True, False, head_dim, kernel, causal)
    assert "\n" not in str(error.value) and "--model.attention auto" in str(error.value)


def test_fla_on_an_encoding_without_a_kernel_is_refused_at_construction() -> None:
    from pebench.backbone import Transformer

    dims = ModelDims(d_model=32, num_heads=2, num_layers=1, causal=True)
    with pytest.raises(PebenchError, match="has no flash-linear-attention kernel; .*fox"):
        Transformer(11, dims, encodings.get("rope")(dims), attention="fla")


def _path_inputs(n: int, seed: int) -> tuple[list[torch.Tensor], torch.Tensor]:
    """q, k, v, unit directions w, strengths β ∈ (0, 2), and a causal mask, in float64."""
    g = torch.Generator().manual_seed(seed)
    q, k, v, w = (torch.randn(1, 2, n, 16, generator=g, dtype=torch.float64) for _ in range(4))
    beta = 2 * torch.sigmoid(torch.randn(1, 2, n, generator=g, dtype=torch.float64))
    causal = torch.full((n, n), float("-inf"), dtype=torch.float64).triu(1)
    return [q, k, v, F.normalize(w, dim=-1), beta], causal


def test_the_path_stand_in_is_path() -> None:
    """The explicit Householder products against pebench's telescoped triangular solve."""
    (q, k, v, w, beta), causal = _path_inputs(5, 2)
    want = naive_path(q, k, v, w, beta, causal)
    out, _ = _fla_path(*(t.transpose(1, 2) for t in (q, k, v, w)), beta.transpose(1, 2))
    torch.testing.assert_close(out.transpose(1, 2), want)
    assert math.isfinite(float(want.sum()))


def test_a_broken_fla_install_falls_back_and_says_why(monkeypatch) -> None:
    def broken(module: str):
        raise RuntimeError("triton too old")

    monkeypatch.setattr(fla.importlib, "import_module", broken)
    fla._load.cache_clear()
    try:
        path = attention_path("auto", CUDA, True, False, 64, "path", True, "path")
        assert path == "naive-recomputed"
        with pytest.raises(PebenchError, match="failed to import .RuntimeError: triton too old"):
            attention_path("fla", CUDA, True, False, 64, "path", True)
    finally:
        fla._load.cache_clear()


def test_adamw_is_fused_on_cuda_only() -> None:
    from pebench.kernels.dispatch import fused_adamw

    assert fused_adamw(CUDA) is True and fused_adamw(torch.device("cpu")) is None


def test_path_recomputed_in_backward_equals_the_dense_reference(monkeypatch) -> None:
    """PaTH's GPU fallback: the solve under checkpointing gives the same values and
    gradients (run here on CPU by asking for it), keeping only its inputs for backward."""
    inputs, causal = _path_inputs(9, 4)
    calls: list[int] = []
    real = chunked.checkpoint
    monkeypatch.setattr(chunked, "checkpoint", lambda *a, **kw: calls.append(1) or real(*a, **kw))

    def dense(q, k, v, w, beta):
        return naive_path(q, k, v, w, beta, causal)

    def again(q, k, v, w, beta):
        return chunked.recomputed(
            naive_path, q, k, v, w, beta, causal, on_cpu=True
        )

    got, want = _grads(again, inputs), _grads(dense, inputs)
    assert calls == [1]
    for ours, ref in zip(got, want, strict=True):
        torch.testing.assert_close(ours, ref)
