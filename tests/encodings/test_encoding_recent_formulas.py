"""The 2025 encodings pinned to their papers' formulas, each evaluated by a naive float64 loop."""

from __future__ import annotations

import math

import pytest
import torch
import torch.nn.functional as F

from pebench.encodings.base import AttentionMask, ModelDims
from pebench.encodings.fox import ForgettingAttention
from pebench.encodings.path import PaTH
from pebench.encodings.pope import PoPE
from pebench.encodings.stick_breaking import StickBreaking
from pebench.errors import PebenchError
from pebench.kernels.sdpa import gated_causal_attention

B, H, T, HD = 2, 2, 7, 4
D_MODEL = H * HD


def dims(causal: bool) -> ModelDims:
    return ModelDims(d_model=D_MODEL, num_heads=H, num_layers=2, causal=causal)


def inputs(seed: int = 0) -> tuple[torch.Tensor, ...]:
    g = torch.Generator().manual_seed(seed)
    q, k, v = (torch.randn(B, H, T, HD, generator=g) for _ in range(3))
    x = torch.randn(B, T, D_MODEL, generator=g)
    return q, k, v, x


def allowed(i: int, j: int, causal: bool) -> bool:
    return j <= i or not causal


def softmax_attention(score, v: torch.Tensor, causal: bool) -> torch.Tensor:
    """Σ_j softmax_j(score(b, h, i, j))·v_j over the allowed keys, in float64 loops."""
    out = torch.zeros(B, H, T, HD, dtype=torch.float64)
    for b in range(B):
        for h in range(H):
            for i in range(T):
                keys = [j for j in range(T) if allowed(i, j, causal)]
                weights = torch.tensor([score(b, h, i, j) for j in keys]).softmax(0)
                pairs = zip(weights, keys, strict=True)
                out[b, h, i] = sum(w * v[b, h, j].double() for w, j in pairs)
    return out


def run(enc, q, k, v, x, causal: bool, layer: int = 1) -> torch.Tensor:
    pos = torch.arange(T).unsqueeze(0)
    return enc.attend(q, k, v, AttentionMask(None, causal), pos, layer, x).detach()


@pytest.mark.parametrize("causal", [True, False], ids=["causal", "bidirectional"])
def test_fox_adds_summed_log_forget_gates(causal: bool) -> None:
    torch.manual_seed(0)
    enc = ForgettingAttention(dims(causal))
    q, k, v, x = inputs()
    gate = enc.gates[1]
    f = (x.double() @ gate.weight.double().T + gate.bias.double()).transpose(1, 2)  # (B, H, T)
    log_sig = F.logsigmoid(f).detach()

    def score(b: int, h: int, i: int, j: int) -> float:
        between = range(j + 1, i + 1) if j <= i else range(i + 1, j + 1)
        decay = sum(float(log_sig[b, h, s]) for s in between)
        return float(q[b, h, i].double() @ k[b, h, j].double()) / math.sqrt(HD) + decay

    want = softmax_attention(score, v, causal)
    assert torch.allclose(run(enc, q, k, v, x, causal).double(), want, atol=1e-5)


@pytest.mark.parametrize("attend_current", [False, True])
@pytest.mark.parametrize("causal", [True, False], ids=["causal", "bidirectional"])
def test_stick_breaking_weights(causal: bool, attend_current: bool) -> None:
    enc = StickBreaking(dims(causal), attend_current=attend_current)
    q, k, v, x = inputs(1)
    beta = torch.sigmoid((q.double() @ k.double().transpose(-1, -2)) / math.sqrt(HD))
    want = torch.zeros(B, H, T, HD, dtype=torch.float64)
    for b in range(B):
        for h in range(H):
            for i in range(T):
                for j in range(T):
                    if not allowed(i, j, causal) or (j == i and not attend_current):
                        continue
                    # keys strictly between j and i break the stick first; so does i itself
                    # when the query may attend to its own key
                    lo, hi = min(i, j), max(i, j)
                    nearer = [s for s in range(lo + 1, hi)]
                    if attend_current and j != i:
                        nearer.append(i)
                    a = beta[b, h, i, j] * math.prod(1 - beta[b, h, i, s] for s in nearer)
                    want[b, h, i] += a * v[b, h, j].double()
    assert torch.allclose(run(enc, q, k, v, x, causal).double(), want, atol=1e-5)


def test_stick_breaking_weights_sum_to_at_most_one_in_a_decoder() -> None:
    enc = StickBreaking(dims(True), attend_current=True)
    q, k, _, x = inputs(2)
    ones = torch.ones(B, H, T, 1)
    total = run(enc, q, k, ones, x, True)
    assert (total <= 1 + 1e-6).all() and (total > 0).all()


@pytest.mark.parametrize("causal", [True, False], ids=["causal", "bidirectional"])
def test_pope_scores_are_magnitudes_times_cosine_of_phase(causal: bool) -> None:
    enc = PoPE(dims(causal), base=100.0)
    with torch.no_grad():
        enc.phase.uniform_(-1.0, 1.0)
    q, k, v, x = inputs(3)
    theta = [100.0 ** (-c / HD) for c in range(HD)]
    mq, mk = F.softplus(q.double()), F.softplus(k.double())
    delta = enc.phase[1].double().detach()

    def score(b: int, h: int, i: int, j: int) -> float:
        total = sum(
            float(mq[b, h, i, c] * mk[b, h, j, c]) * math.cos((i - j) * theta[c] - delta[h, c])
            for c in range(HD)
        )
        return total / math.sqrt(HD)

    want = softmax_attention(score, v, causal)
    assert torch.allclose(run(enc, q, k, v, x, causal).double(), want, atol=1e-5)


def test_path_matches_explicit_householder_products() -> None:
    torch.manual_seed(0)
    enc = PaTH(dims(True))
    q, k, v, x = inputs(4)
    with torch.no_grad():
        projected = (x.double() @ enc.directions[1].weight.double().T).view(B, T, H, HD)
        w = F.normalize(projected, dim=-1)
        strength = enc.strengths[1]
        beta = 2 * torch.sigmoid(x.double() @ strength.weight.double().T + strength.bias.double())

    def householder(b: int, h: int, s: int) -> torch.Tensor:
        ws = w[b, s, h].unsqueeze(-1)
        return torch.eye(HD, dtype=torch.float64) - beta[b, s, h] * (ws @ ws.T)

    def score(b: int, h: int, i: int, j: int) -> float:
        product = torch.eye(HD, dtype=torch.float64)
        for s in range(i, j, -1):  # H_i · H_{i−1} ··· H_{j+1}
            product = product @ householder(b, h, s)
        return float(q[b, h, i].double() @ product @ k[b, h, j].double()) / math.sqrt(HD)

    want = softmax_attention(score, v, True)
    assert torch.allclose(run(enc, q, k, v, x, True).double(), want, atol=1e-5)


def test_path_refuses_a_bidirectional_encoder_with_its_reason() -> None:
    with pytest.raises(PebenchError, match="Householder transforms accumulate"):
        PaTH(dims(False))


@pytest.mark.parametrize("align", [1, 8], ids=["unpadded", "padded-to-8"])  # 8: CUDA's
def test_fox_causal_fast_path_holds_for_long_strongly_forgetting_sequences(align: int) -> None:
    """The bilinear trick sums √d·c_i − √d·c_j inside a dot product: check it stays exact
    enough where c reaches about −900 (300 tokens, log σ(f) ≈ −3), with or without the zero
    padding of the extended heads to a multiple of 8 that CUDA's flash kernel needs."""
    t = 300
    g = torch.Generator().manual_seed(5)
    q, k, v = (torch.randn(1, H, t, HD, generator=g) for _ in range(3))
    log_forget = -3 + 0.5 * torch.randn(1, H, t, generator=g)
    total = log_forget.cumsum(-1)
    fast = gated_causal_attention(q, k, v, None, True, total, align=align)
    assert fast.shape == v.shape
    bias = (total.unsqueeze(-1) - total.unsqueeze(-2)).double()
    scores = (q.double() @ k.double().transpose(-1, -2)) / math.sqrt(HD) + bias
    scores = scores.masked_fill(torch.ones(t, t, dtype=torch.bool).triu(1), float("-inf"))
    want = scores.softmax(-1) @ v.double()
    assert torch.allclose(fast.double(), want, atol=1e-3)


@pytest.mark.parametrize("attend_current", [False, True])
@pytest.mark.parametrize("causal", [True, False], ids=["causal", "bidirectional"])
def test_stick_breaking_remainder_goes_to_the_current_value(
    causal: bool, attend_current: bool
) -> None:
    """With ``remainder`` every stick is spent: the pieces plus the leftover on v_i sum to one
    per stick (two sticks in an encoder), and the rest of the output is unchanged."""
    q, k, v, x = inputs(5)
    plain = StickBreaking(dims(causal), attend_current=attend_current)
    full = StickBreaking(dims(causal), attend_current=attend_current, remainder=True)
    ones = torch.ones(B, H, T, 1)
    sticks = 1.0 if causal else 2.0
    assert torch.allclose(run(full, q, k, ones, x, causal), torch.full_like(ones, sticks))
    leftover = sticks - run(plain, q, k, ones, x, causal)
    want = run(plain, q, k, v, x, causal) + leftover * v
    assert torch.allclose(run(full, q, k, v, x, causal), want, atol=1e-6)


def test_pope_phase_clamp_keeps_phases_in_minus_two_pi_to_zero() -> None:
    q, k, v, x = inputs(6)
    clamped = PoPE(dims(True), clamp_phase=True)
    reference = PoPE(dims(True))
    with torch.no_grad():
        clamped.phase.uniform_(-3 * math.pi, 1.0)
        reference.phase.copy_(clamped.phase.clamp(-2 * math.pi, 0.0))
    assert torch.allclose(run(clamped, q, k, v, x, True), run(reference, q, k, v, x, True))
    free = PoPE(dims(True))
    free.load_state_dict(clamped.state_dict())
    assert not torch.allclose(run(free, q, k, v, x, True), run(clamped, q, k, v, x, True))
