"""The GPU paths, pinned to CPU references (``make gpu-check`` runs these on a GPU; without
one they are collected and skipped with the reason).

Every registered encoding on CUDA against a float64 CPU reference (SDPA and the automatic
FlexAttention path; flash-linear-attention's kernels; CoPE and stick-breaking by blocks of
queries; the compiled rotary kernel), FlexAttention against SDPA forward and backward
including the offset tables' gradients (FlexAttention sums them with atomic adds), no
recompile per sequence length, bf16 under autocast and as the whole model's dtype, cached
decoding, and a Lightning run that records the GPU it trained on.
"""

from __future__ import annotations

import dataclasses
import json
from pathlib import Path

import pytest
import torch

from pebench import encodings
from pebench.backbone import Transformer, greedy_decode, recompute_decode
from pebench.benchmark.run.train import train
from pebench.encodings.base import ModelDims
from pebench.kernels import chunked, dispatch, fla
from tests.encodings.test_encoding_contract import Decoder
from tests.kernels.test_flex_attention import BIAS, BUCKETS
from tests.specs import copy_spec

pytestmark = pytest.mark.cuda

VOCAB = 11
ENCODINGS = sorted(encodings.available())
CUDA = torch.device("cuda")


def twins(
    name: str, causal: bool, attention: str = "auto", d_model: int = 64
) -> tuple[Transformer, Transformer]:
    """The same model as a float64 CPU reference and a float32 CUDA copy; 4 heads of 16
    dimensions by default, the smallest FlexAttention compiles."""
    dims = ModelDims(d_model=d_model, num_heads=4, num_layers=2, causal=causal)
    torch.manual_seed(0)
    ref = Transformer(VOCAB, dims, encodings.get(name)(dims), attention="sdpa")
    for param in ref.parameters():  # trained-looking biases, not the zero/small inits
        param.data.add_(0.05 * torch.randn_like(param))
    torch.manual_seed(0)
    gpu = Transformer(VOCAB, dims, encodings.get(name)(dims), attention=attention)
    gpu.load_state_dict(ref.state_dict())
    return ref.double(), gpu.to(CUDA)


def batch(length: int, padded: bool) -> tuple[torch.Tensor, torch.Tensor | None]:
    tokens = torch.randint(0, VOCAB, (3, length), generator=torch.Generator().manual_seed(1))
    if not padded:
        return tokens, None
    padding = torch.zeros(3, length, dtype=torch.bool)
    padding[0, length - 7 :] = True
    padding[2, 11:] = True
    return tokens, padding


def _run(model: Transformer, tokens, padding, device) -> tuple[torch.Tensor, dict]:
    model.zero_grad()
    pad = None if padding is None else padding.to(device)
    out = model(tokens.to(device), padding_mask=pad)
    real = torch.ones_like(tokens, dtype=torch.bool) if padding is None else ~padding
    out[real.to(device)].square().mean().backward()
    grads = {n: p.grad for n, p in model.named_parameters() if p.grad is not None}
    return out.detach(), grads


def _close(got: torch.Tensor, want: torch.Tensor, tol: float) -> bool:
    return torch.allclose(got.double().cpu(), want.double(), atol=tol, rtol=tol)


@pytest.mark.parametrize("name", ENCODINGS)
@pytest.mark.parametrize("causal", [True, False], ids=["causal", "bidirectional"])
@pytest.mark.parametrize("padded", [False, True], ids=["dense", "padded"])
@pytest.mark.parametrize("attention", ["sdpa", "auto"])
def test_cuda_equals_the_float64_cpu_reference(
    name: str, causal: bool, padded: bool, attention: str
) -> None:
    if not causal and not encodings.get(name).supports_bidirectional:
        pytest.skip("encoding is causal-only")
    ref, gpu = twins(name, causal, attention)
    if gpu.attention_path(CUDA) == "fla":
        pytest.skip("fla's kernel: test_fla_kernels_equal_the_float64_cpu_reference")
    tokens, padding = batch(150, padded)
    want, want_grads = _run(ref, tokens, padding, "cpu")
    got, got_grads = _run(gpu, tokens, padding, CUDA)
    real = torch.ones_like(tokens, dtype=torch.bool) if padding is None else ~padding
    assert _close(got[real.to(CUDA)], want[real], 1e-4)
    assert set(got_grads) == set(want_grads)
    for param, grad in want_grads.items():
        assert _close(got_grads[param], grad, 2e-3), f"{name}.{param}"


def _relative(got: torch.Tensor, want: torch.Tensor) -> float:
    return float((got.double().cpu() - want.double()).norm() / want.double().norm())


@pytest.mark.parametrize("name", sorted(fla.KERNELS))
def test_fla_kernels_equal_the_float64_cpu_reference(name: str) -> None:
    """flash-linear-attention's kernel for the encoding, forward and every gradient. Triton
    multiplies float32 in TF32, so errors are compared as norms, relative to the reference."""
    if fla.kernel(name) is None:
        pytest.skip(f"flash-linear-attention is not installed; {fla.INSTALL}")
    ref, gpu = twins(name, True, "fla")
    assert gpu.attention_path(CUDA) == "fla"
    tokens, _ = batch(150, False)
    want, want_grads = _run(ref, tokens, None, "cpu")
    got, got_grads = _run(gpu, tokens, None, CUDA)
    assert _relative(got, want) < 5e-3
    assert set(got_grads) == set(want_grads)
    for param, grad in want_grads.items():
        assert _relative(got_grads[param], grad) < 2e-2, f"{name}.{param}"


@pytest.mark.parametrize("name", ["rope", "xpos", "pope"])
def test_fused_rotary_on_cuda_equals_the_float64_cpu_reference(name: str, monkeypatch) -> None:
    """The compiled rotation or polar form (forced at this small size), at two lengths
    without recompiling."""
    from torch._dynamo.utils import counters

    monkeypatch.setattr(dispatch, "FUSED_ROTARY_MIN_ELEMENTS", 0)
    ref, gpu = twins(name, True)
    for length in (150, 170):
        tokens, _ = batch(length, False)
        want, want_grads = _run(ref, tokens, None, "cpu")
        got, got_grads = _run(gpu, tokens, None, CUDA)
        assert _close(got, want, 1e-4)
        for param, grad in want_grads.items():
            assert _close(got_grads[param], grad, 2e-3), f"{name}.{param}"
        if length == 150:
            before = counters["stats"]["unique_graphs"]
    assert counters["stats"]["unique_graphs"] == before


@pytest.mark.parametrize(
    "name", ["cope", "stick_breaking", "shaw", "transformer_xl", "fire", "alibi", "t5"]
)
@pytest.mark.parametrize("causal", [True, False], ids=["causal", "bidirectional"])
@pytest.mark.parametrize("padded", [False, True], ids=["dense", "padded"])
def test_query_chunked_attention_on_cuda_equals_the_float64_cpu_reference(
    name: str, causal: bool, padded: bool, monkeypatch
) -> None:
    """Blocks of 16 queries (the budget shrunk to force ten of them), checkpointed; Shaw's and
    Transformer-XL's gathered bias and the bias encodings' dense masks built per block, as
    past DENSE_BIAS_LIMIT."""
    monkeypatch.setattr(chunked, "CHUNK_ELEMENTS", 3 * 4 * 150 * 16)
    monkeypatch.setattr(dispatch, "DENSE_BIAS_LIMIT", 0)
    ref, gpu = twins(name, causal, "sdpa")
    tokens, padding = batch(150, padded)
    want, want_grads = _run(ref, tokens, padding, "cpu")
    got, got_grads = _run(gpu, tokens, padding, CUDA)
    real = torch.ones_like(tokens, dtype=torch.bool) if padding is None else ~padding
    assert _close(got[real.to(CUDA)], want[real], 1e-4)
    for param, grad in want_grads.items():
        assert _close(got_grads[param], grad, 2e-3), f"{name}.{param}"


@pytest.mark.parametrize("name", BIAS + BUCKETS)
@pytest.mark.parametrize("causal", [True, False], ids=["causal", "bidirectional"])
@pytest.mark.parametrize("padded", [False, True], ids=["dense", "padded"])
def test_flex_equals_sdpa_forward_and_backward(name: str, causal: bool, padded: bool) -> None:
    """Length 130 crosses FlexAttention's 128-token block; the encoding's parameters (the
    tables FlexAttention differentiates with atomic adds) get SDPA's gradients."""
    _, sdpa = twins(name, causal, "sdpa")
    _, flex = twins(name, causal, "flex")
    tokens, padding = batch(130, padded)
    want, want_grads = _run(sdpa, tokens, padding, CUDA)
    got, got_grads = _run(flex, tokens, padding, CUDA)
    real = (torch.ones_like(tokens, dtype=torch.bool) if padding is None else ~padding).to(CUDA)
    assert torch.allclose(got[real], want[real], atol=1e-4)
    for param, grad in want_grads.items():
        assert torch.allclose(got_grads[param], grad, atol=1e-3, rtol=1e-3), f"{name}.{param}"


@pytest.mark.parametrize("name", ["alibi", "t5", "shaw"])
def test_shared_offsets_on_cuda_equal_sdpa_and_do_not_recompile(
    name: str, monkeypatch: pytest.MonkeyPatch
) -> None:
    """PEBENCH_FLEX_SHARED_OFFSETS=1, the opt-in score_mods for default positions: forward
    and gradients equal SDPA's, and 40 lengths compile a bounded number of kernels (their
    bounds are tensors, not Python numbers that change with the length)."""
    from torch._dynamo.utils import counters

    from pebench.kernels.flex import SHARED_OFFSETS_ENV

    monkeypatch.setenv(SHARED_OFFSETS_ENV, "1")
    _, sdpa = twins(name, True, "sdpa")
    _, flex = twins(name, True, "flex")
    tokens, padding = batch(130, True)
    want, want_grads = _run(sdpa, tokens, padding, CUDA)
    got, got_grads = _run(flex, tokens, padding, CUDA)
    real = (~padding).to(CUDA)
    assert torch.allclose(got[real], want[real], atol=1e-4)
    for param, grad in want_grads.items():
        assert torch.allclose(got_grads[param], grad, atol=1e-3, rtol=1e-3), f"{name}.{param}"
    before = counters["stats"]["unique_graphs"]
    for length in range(3, 43):
        flex(torch.randint(0, VOCAB, (8, length), device=CUDA)).square().mean().backward()
    assert counters["stats"]["unique_graphs"] - before <= 4


def test_flex_does_not_recompile_per_sequence_length() -> None:
    """Training and evaluating at 40 lengths (as the copy task does) compiles a bounded number
    of kernels: lengths are padded to whole blocks. The eager fallback would be a warning,
    which pytest turns into an error (pyproject.toml's filterwarnings)."""
    from torch._dynamo.utils import counters

    _, model = twins("alibi", causal=True, attention="flex")
    before = counters["stats"]["unique_graphs"]
    for length in range(3, 43):
        tokens = torch.randint(0, VOCAB, (8, length), device=CUDA)
        model(tokens).square().mean().backward()
        with torch.no_grad():
            model(tokens)
    assert counters["stats"]["unique_graphs"] - before <= 4


@pytest.mark.parametrize("name", ENCODINGS)
def test_bf16_autocast_and_whole_model_bf16_are_finite(name: str) -> None:
    _, model = twins(name, causal=True)
    tokens = torch.randint(0, VOCAB, (4, 64), device=CUDA)
    with torch.autocast("cuda", dtype=torch.bfloat16):
        out = model(tokens)
    out.float().square().mean().backward()
    assert torch.isfinite(out).all()
    model = model.to(torch.bfloat16)
    out = model(tokens)
    assert out.dtype == torch.bfloat16 and torch.isfinite(out).all()


@pytest.mark.parametrize("name", [n for n in ENCODINGS if encodings.get(n).kv_cache])
def test_cached_decoding_equals_recomputing_on_cuda(name: str) -> None:
    _, backbone = twins(name, causal=True, d_model=32)  # Decoder reads 32-wide states
    model = Decoder(backbone).to(CUDA).eval()
    prefix = torch.randint(0, VOCAB, (3, 7), device=CUDA)
    full = recompute_decode(model, prefix, steps=6)
    assert torch.equal(greedy_decode(model, backbone.eval(), prefix, steps=6), full)


def test_a_lightning_run_records_the_gpu(tmp_path: Path) -> None:
    metrics = train(copy_spec(tmp_path, "gpu")).as_json()
    saved = json.loads((tmp_path / "run" / "metrics.json").read_text())
    assert saved == metrics
    assert metrics["device"] == "cuda:0"
    assert metrics["gpu"] == torch.cuda.get_device_name(0)
    assert metrics["cuda"] == torch.version.cuda
    assert metrics["attention_path"] == "sdpa"  # heads of 8 dimensions: too small for flex


@pytest.mark.parametrize("encoding", ["none", "alibi", "t5", "shaw"])
def test_gpu_training_steps_never_wait_for_the_gpu(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch, encoding: str
) -> None:
    """Batches reach the GPU from pinned memory (a pageable copy waits for the queue), and no
    step between logging steps synchronises (``torch.cuda.set_sync_debug_mode``); heads of
    16 dimensions, so that alibi and t5 take FlexAttention."""
    from lightning.pytorch import Callback

    from pebench.benchmark.run.module import PEModule
    from pebench.benchmark.run.spec import ModelConfig

    transferred = []
    hook = PEModule.on_before_batch_transfer

    def spy(self, batch, idx):
        batch = hook(self, batch, idx)
        transferred.extend(t.is_pinned() for t in batch.values() if torch.is_tensor(t))
        return batch

    class NoSync(Callback):
        def on_train_batch_start(self, trainer, *args) -> None:
            torch.cuda.set_sync_debug_mode("error" if 2 <= trainer.global_step < 9 else 0)

        def on_train_end(self, *args) -> None:
            torch.cuda.set_sync_debug_mode(0)

    monkeypatch.setattr(PEModule, "on_before_batch_transfer", spy)
    spec = copy_spec(tmp_path, "gpu")
    spec = dataclasses.replace(
        spec, encoding=encodings.get(encoding),
        model=ModelConfig(d_model=64, num_layers=1, num_heads=4),
        train=dataclasses.replace(spec.train, max_steps=12),
    )  # fmt: skip
    try:
        train(spec, [NoSync()])
    finally:
        torch.cuda.set_sync_debug_mode(0)
    assert transferred and all(transferred)
