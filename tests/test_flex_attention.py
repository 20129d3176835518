"""The FlexAttention path for score biases, pinned to the SDPA path on CPU.

FlexAttention has no CPU backward, so these compare forward passes without gradients; the
path is chosen automatically only on CUDA, where it has not yet run in this project.
"""

from __future__ import annotations

import pytest
import torch

from pebench import encodings
from pebench.backbone import Transformer
from pebench.encodings.base import ModelDims, PositionalEncoding
from pebench.errors import PebenchError

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


def pair(name: str, causal: bool) -> tuple[Transformer, Transformer]:
    dims = ModelDims(d_model=32, num_heads=4, num_layers=2, causal=causal)
    torch.manual_seed(0)
    sdpa = Transformer(VOCAB, dims, encodings.get(name)(dims), attention="sdpa").eval()
    torch.manual_seed(0)
    flex = Transformer(VOCAB, dims, encodings.get(name)(dims), attention="flex").eval()
    for param in sdpa.parameters():  # trained-looking biases, not the zero/small inits
        param.data.add_(0.1 * torch.randn_like(param))
    flex.load_state_dict(sdpa.state_dict())
    return sdpa, flex


def test_the_bias_encodings_are_found() -> None:
    assert {"alibi", "t5", "kerple_log", "kerple_power", "fire", "dynamic_bias"} <= set(BIAS)


@pytest.mark.parametrize("name", BIAS)
@pytest.mark.parametrize("causal", [True, False], ids=["causal", "bidirectional"])
@pytest.mark.parametrize("padded", [False, True], ids=["dense", "padded"])
def test_flex_forward_equals_sdpa(name: str, causal: bool, padded: bool) -> None:
    sdpa, flex = pair(name, causal)
    tokens = torch.randint(0, VOCAB, (3, 13), generator=torch.Generator().manual_seed(1))
    padding = None
    if padded:
        padding = torch.zeros(3, 13, dtype=torch.bool)
        padding[0, 9:] = True
        padding[2, 5:] = True
    with torch.no_grad():
        want = sdpa(tokens, padding_mask=padding)
        got = flex(tokens, padding_mask=padding)
    real = ~padding if padded else torch.ones(3, 13, dtype=torch.bool)
    assert torch.allclose(got[real], want[real], atol=1e-5)


def test_flex_refuses_cpu_training_and_attend_overrides() -> None:
    dims = ModelDims(d_model=32, num_heads=4, num_layers=1, causal=True)
    model = Transformer(VOCAB, dims, encodings.get("alibi")(dims), attention="flex")
    with pytest.raises(PebenchError, match="no backward on CPU"):
        model(torch.randint(0, VOCAB, (2, 5)))
    with pytest.raises(PebenchError, match="computes attention itself"):
        Transformer(VOCAB, dims, encodings.get("shaw")(dims), attention="flex")


def test_auto_uses_sdpa_on_cpu() -> None:
    dims = ModelDims(d_model=32, num_heads=4, num_layers=1, causal=True)
    model = Transformer(VOCAB, dims, encodings.get("t5")(dims))
    assert model.attention_backend == "auto" and not model.uses_flex(torch.device("cpu"))
    assert model.uses_flex(torch.device("cuda"))  # decided by device type, no GPU needed


def test_training_with_flex_on_cpu_is_refused_before_writing(tmp_path) -> None:
    from pebench import tasks
    from pebench.benchmark.config import ModelConfig, RunSpec, TrainConfig
    from pebench.benchmark.train import train

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
