"""The FlexAttention path for score biases, pinned to the SDPA path on CPU.

FlexAttention has no CPU backward, so these compare forward passes without gradients; the
path is chosen automatically only on CUDA, where ``tests/gpu/test_cuda.py`` pins forward and
backward (including the offset tables' gradients) to SDPA.
"""

from __future__ import annotations

import pytest
import torch

from pebench import encodings
from pebench.backbone import Transformer
from pebench.encodings.base import ModelDims, PositionalEncoding
from pebench.errors import PebenchError
from pebench.kernels import flex as flex_kernels
from pebench.kernels.bias import OffsetTable
from pebench.kernels.naive import naive_attention

VOCAB = 11


def bias_encodings() -> list[str]:
    """Registered encodings that attend through the standard kernel with a score bias."""
    names = []
    dims = ModelDims(32, 4, 2, causal=True)
    pos = torch.arange(4).unsqueeze(0)
    for name, cls in sorted(encodings.available().items()):
        standard = cls.attend is PositionalEncoding.attend
        if standard and cls(dims).attention_bias(pos, pos) is not None:
            names.append(name)
    return names


BIAS = bias_encodings()


def pair(name: str, causal: bool, **options) -> tuple[Transformer, Transformer]:
    dims = ModelDims(d_model=32, num_heads=4, num_layers=2, causal=causal)
    torch.manual_seed(0)
    sdpa = Transformer(VOCAB, dims, encodings.get(name)(dims, **options), attention="sdpa")
    sdpa.eval()
    torch.manual_seed(0)
    flex = Transformer(VOCAB, dims, encodings.get(name)(dims, **options), attention="flex")
    flex.eval()
    for param in sdpa.parameters():  # trained-looking biases, not the zero/small inits
        param.data.add_(0.1 * torch.randn_like(param))
    flex.load_state_dict(sdpa.state_dict())
    return sdpa, flex


#: encodings whose own attention is a per-query bucket bias FlexAttention can gather
BUCKETS = ["shaw", "transformer_xl"]


@pytest.mark.parametrize("name", BUCKETS)
@pytest.mark.parametrize("causal", [True, False], ids=["causal", "bidirectional"])
@pytest.mark.parametrize("padded", [False, True], ids=["dense", "padded"])
def test_bucket_biases_through_flex_equal_their_sdpa_path(
    name: str, causal: bool, padded: bool
) -> None:
    """Shaw's clipped distances and Transformer-XL's distances, gathered inside the
    FlexAttention kernel (forward on CPU; gradients under the cuda marker), equal the
    bucket kernel path, across two 128-token blocks and with per-row positions."""
    sdpa, flex = pair(name, causal)
    with torch.no_grad():
        assert flex.attention_path(torch.device("cpu")) == "flex"
    tokens = torch.randint(0, VOCAB, (2, 130), generator=torch.Generator().manual_seed(2))
    padding = torch.zeros(2, 130, dtype=torch.bool)
    if padded:
        padding[1, 100:] = True
    with torch.no_grad():
        want = sdpa(tokens, padding_mask=padding if padded else None)
        got = flex(tokens, padding_mask=padding if padded else None)
    keep = ~padding
    assert torch.allclose(got[keep], want[keep], atol=2e-5), (got - want).abs().max()
    rows = torch.sort(torch.randperm(300)[:130].view(1, 130).expand(2, -1).clone(), -1).values
    rows[1] += 7
    with torch.no_grad():
        assert torch.allclose(flex(tokens, positions=rows), sdpa(tokens, positions=rows),
                              atol=2e-5)  # fmt: skip


@pytest.mark.parametrize("name", ["alibi", "t5", "fire", "shaw", "transformer_xl"])
@pytest.mark.parametrize("causal", [True, False], ids=["causal", "bidirectional"])
def test_shared_offsets_score_mods_equal_the_sdpa_path(
    name: str, causal: bool, monkeypatch: pytest.MonkeyPatch
) -> None:
    """PEBENCH_FLEX_SHARED_OFFSETS=1 (the offset taken as q_idx − kv_idx for default
    positions, clamped into the table over padded rows) gives the SDPA path's output, with
    key padding and across two 128-token blocks."""
    monkeypatch.setenv(flex_kernels.SHARED_OFFSETS_ENV, "1")
    sdpa, flex = pair(name, causal)
    tokens = torch.randint(0, VOCAB, (2, 130), generator=torch.Generator().manual_seed(3))
    padding = torch.zeros(2, 130, dtype=torch.bool)
    padding[0, 120:] = True
    with torch.no_grad():
        want, got = sdpa(tokens, padding_mask=padding), flex(tokens, padding_mask=padding)
    assert torch.allclose(got[~padding], want[~padding], atol=2e-5)
    shared = torch.arange(4).unsqueeze(0)
    index = flex_kernels._offset_index
    assert index(-3, 7, shared, 128).__name__ == "shared_index"
    gaps = shared + torch.tensor([[0, 0, 1, 1]])
    assert index(-3, 7, gaps, 128).__name__ == "looked_up_index"  # gaps: the general form


def test_the_bias_encodings_are_found() -> None:
    assert {"alibi", "t5", "kerple_log", "kerple_power", "fire", "dynamic_bias"} <= set(BIAS)


@pytest.mark.parametrize("name", BIAS)
@pytest.mark.parametrize("causal", [True, False], ids=["causal", "bidirectional"])
@pytest.mark.parametrize("padded", [False, True], ids=["dense", "padded"])
@pytest.mark.parametrize("length", [13, 130], ids=["one-block", "two-blocks"])
def test_flex_forward_equals_sdpa(name: str, causal: bool, padded: bool, length: int) -> None:
    sdpa, flex = pair(name, causal)
    tokens = torch.randint(0, VOCAB, (3, length), generator=torch.Generator().manual_seed(1))
    padding = None
    if padded:
        padding = torch.zeros(3, length, dtype=torch.bool)
        padding[0, length - 4 :] = True
        padding[2, 5:] = True
    with torch.no_grad():
        want = sdpa(tokens, padding_mask=padding)
        got = flex(tokens, padding_mask=padding)
    real = ~padding if padded else torch.ones(3, length, dtype=torch.bool)
    assert torch.allclose(got[real], want[real], atol=1e-5)


@pytest.mark.parametrize("name", BIAS)
def test_flex_forward_equals_sdpa_with_per_row_positions(name: str) -> None:
    """Randomized positions (Ruoss et al.): every row its own sorted positions, so the table
    is indexed per batch row inside the kernel."""
    sdpa, flex = pair(name, causal=True)
    gen = torch.Generator().manual_seed(2)
    tokens = torch.randint(0, VOCAB, (3, 20), generator=gen)
    positions = torch.stack([torch.randperm(300, generator=gen)[:20].sort().values for _ in "abc"])
    with torch.no_grad():
        assert torch.allclose(flex(tokens, positions), sdpa(tokens, positions), atol=1e-5)


@pytest.mark.parametrize("name", ["alibi", "t5", "kerple_log", "kerple_power", "dynamic_bias"])
def test_offset_biases_reach_flex_as_a_table_not_a_dense_tensor(name: str) -> None:
    _, flex = pair(name, causal=True)
    positions = torch.arange(50).unsqueeze(0)
    with torch.no_grad():
        mask = flex.attention_mask(positions, None, torch.float32)
    assert mask.flex is not None and mask.flex.bias is None
    assert mask.flex.table.values.shape == (4, 99)  # heads × offsets −49..49, not 50 × 50


def test_fire_past_its_threshold_falls_back_to_the_dense_bias() -> None:
    """Past L the normalizer depends on the query, so FIRE's bias is not an offset table:
    the dense bias is indexed instead, with the same result as SDPA."""
    sdpa, flex = pair("fire", causal=True, init_L=8.0)
    tokens = torch.randint(0, VOCAB, (2, 20), generator=torch.Generator().manual_seed(3))
    with torch.no_grad():
        mask = flex.attention_mask(torch.arange(20).unsqueeze(0), None, torch.float32)
        assert mask.flex.table is None and mask.flex.bias is not None
        assert torch.allclose(flex(tokens), sdpa(tokens), atol=1e-5)


def test_flex_kernel_matches_the_reference_and_pads_to_whole_blocks() -> None:
    """The kernel itself against the eager reference at lengths around the block size; the
    padded rows and keys never show."""
    gen = torch.Generator().manual_seed(4)
    for n in (1, 127, 128, 129):
        q, k, v = (torch.randn(2, 3, n, 8, generator=gen) for _ in "qkv")
        values = torch.randn(3, 2 * n - 1, generator=gen)
        positions = torch.arange(n).unsqueeze(0)
        table = OffsetTable(values, -(n - 1))
        with torch.no_grad():
            got = flex_kernels.flex_attention(q, k, v, True, None, table, positions)
        want = naive_attention(q, k, v, table.dense(positions, positions), causal=True)
        assert got.shape == want.shape
        assert torch.allclose(got, want, atol=1e-5)
    assert flex_kernels.padded_length(129) == 256 and flex_kernels.padded_length(128) == 128


def test_flex_runs_in_the_autocast_dtype() -> None:
    """FlexAttention is not covered by autocast: q, k and v are cast to its dtype."""
    q, k, v = (torch.randn(1, 2, 9, 8) for _ in "qkv")
    with torch.no_grad(), torch.autocast("cpu", dtype=torch.bfloat16):
        out = flex_kernels.flex_attention(q, k, v, causal=True)
    assert out.dtype == torch.bfloat16


def test_float32_kernels_get_tiles_that_fit_shared_memory(monkeypatch) -> None:
    cuda, cpu = torch.device("cuda"), torch.device("cpu")
    options = flex_kernels.kernel_options(torch.float32, cuda)
    assert options is not None and options["BLOCK_M"] <= 64 and options["BLOCK_N"] <= 64
    assert flex_kernels.kernel_options(torch.bfloat16, cuda) is None  # the autotuned defaults
    assert flex_kernels.kernel_options(torch.float32, cpu) is None
    monkeypatch.setenv("PEBENCH_FLEX_KERNEL_OPTIONS", '{"BLOCK_M": 32}')
    assert flex_kernels.kernel_options(torch.bfloat16, cuda) == {"BLOCK_M": 32}


def test_flex_refuses_cpu_training_and_attend_overrides() -> None:
    dims = ModelDims(d_model=32, num_heads=4, num_layers=1, causal=True)
    model = Transformer(VOCAB, dims, encodings.get("alibi")(dims), attention="flex")
    with pytest.raises(PebenchError, match="no backward on CPU"):
        model(torch.randint(0, VOCAB, (2, 5)))
    with pytest.raises(PebenchError, match="computes attention itself"):
        Transformer(VOCAB, dims, encodings.get("fox")(dims), attention="flex")
    with pytest.raises(PebenchError, match="computes attention itself"):  # value embeddings
        Transformer(VOCAB, dims, encodings.get("shaw")(dims, values=True), attention="flex")


def test_auto_uses_sdpa_on_cpu() -> None:
    dims = ModelDims(d_model=64, num_heads=4, num_layers=1, causal=True)
    model = Transformer(VOCAB, dims, encodings.get("t5")(dims))
    assert model.attention_backend == "auto" and not model.uses_flex(torch.device("cpu"))
    assert model.uses_flex(torch.device("cuda"))  # decided by device type, no GPU needed


def test_training_with_flex_on_cpu_is_refused_before_writing(tmp_path) -> None:
    from pebench import tasks
    from pebench.benchmark.run.spec import ModelConfig, RunSpec, TrainConfig
    from pebench.benchmark.run.train import train

    spec = RunSpec(
        task=tasks.get("copy")(train_lengths=(1, 3), eval_lengths=(1, 4)),
        encoding=encodings.get("alibi"),
        model=ModelConfig(d_model=16, num_layers=1, num_heads=2, attention="flex"),
        train=TrainConfig(progress=False, accelerator="cpu", batch_size=4, max_steps=1),
        output_dir=tmp_path / "run",
    )
    with pytest.raises(PebenchError, match="no backward on CPU"):
        train(spec)
    assert not (tmp_path / "run").exists()


def test_dispatch_takes_flex_only_where_it_runs() -> None:
    """On CUDA, auto picks FlexAttention for score biases with heads of at least 16
    dimensions (its kernels refuse smaller ones, as seen on an H200), SDPA for encodings
    without a bias and for smaller heads; forcing flex onto small heads is refused."""
    cuda = torch.device("cuda")
    wide = ModelDims(d_model=64, num_heads=4, num_layers=1, causal=True)
    narrow = ModelDims(d_model=32, num_heads=4, num_layers=1, causal=True)
    for dims, name, path in [(wide, "alibi", "flex"), (narrow, "alibi", "sdpa"),
                             (wide, "none", "sdpa"), (wide, "rope", "sdpa"),
                             (wide, "fox", "sdpa-gated"), (wide, "shaw", "sdpa-buckets"),
                             (wide, "transformer_xl", "sdpa-buckets")]:  # fmt: skip
        model = Transformer(VOCAB, dims, encodings.get(name)(dims))
        assert model.attention_path(cuda) == path, (name, dims.head_dim)
    for name in BUCKETS:  # opt-in until the bucket path has been timed on a GPU
        model = Transformer(VOCAB, wide, encodings.get(name)(wide), attention="flex")
        assert model.attention_path(cuda) == "flex", name
    forced = Transformer(VOCAB, narrow, encodings.get("alibi")(narrow), attention="flex")
    with pytest.raises(PebenchError, match="at least 16 dimensions, this model has 8"):
        forced.attention_path(cuda)
