"""T5-style layer options (d_ff, ReLU, RMS norm, no biases) and the linear schedule."""

from __future__ import annotations

import pytest
import torch
from torch import nn

from pebench import encodings, tasks
from pebench.backbone import Transformer
from pebench.benchmark.run.module import PEModule
from pebench.benchmark.run.spec import ModelConfig, OptimConfig
from pebench.encodings.base import ModelDims
from pebench.errors import PebenchError

DIMS = ModelDims(d_model=16, num_heads=2, num_layers=2, causal=True)


def test_defaults_are_unchanged() -> None:
    model = Transformer(10, DIMS, encodings.get("none")(DIMS))
    block = model.blocks[0]
    assert isinstance(block.norm1, nn.LayerNorm) and block.norm1.bias is not None
    assert block.ffn[0].out_features == 64 and isinstance(block.ffn[1], nn.GELU)
    assert block.attn.qkv.bias is not None


def test_t5_layer_has_rms_norm_relu_d_ff_and_no_biases() -> None:
    model = Transformer(
        10,
        DIMS,
        encodings.get("t5")(DIMS),
        d_ff=24,
        activation="relu",
        norm="rmsnorm",
        bias=False,
    )
    block = model.blocks[0]
    assert isinstance(block.norm1, nn.RMSNorm) and isinstance(model.norm, nn.RMSNorm)
    assert block.ffn[0].out_features == 24 and isinstance(block.ffn[1], nn.ReLU)
    biases = [n for n, _ in model.named_parameters() if n.endswith(".bias")]
    assert biases == []  # T5's bucket table is a weight (encoding.bias.weight)
    x = torch.randn(2, 5, 16)
    rms = block.norm1(x)
    assert torch.allclose(rms.pow(2).mean(-1), torch.ones(2, 5), atol=1e-3)  # no centring
    assert model(torch.randint(0, 10, (2, 5))).shape == (2, 5, 16)


@pytest.mark.parametrize(
    ("options", "message"),
    [({"activation": "swish"}, "activation must be one of gelu, relu"),
     ({"norm": "batch"}, "norm must be 'layernorm' or 'rmsnorm'"),
     ({"d_ff": 0}, "d_ff must be at least 1")],
)  # fmt: skip
def test_bad_options_are_one_line(options: dict, message: str) -> None:
    with pytest.raises(PebenchError, match=message):
        Transformer(10, DIMS, encodings.get("none")(DIMS), **options)


@pytest.mark.parametrize("schedule", ["linear", "cosine"])
def test_schedule_warms_up_then_decays_to_the_floor(schedule: str) -> None:
    module = PEModule(
        tasks.get("copy")(),
        encodings.get("none"),
        ModelConfig(d_model=16, num_heads=2),
        OptimConfig(lr=1.0, warmup_steps=10, min_lr_ratio=0.0, schedule=schedule),
    )

    class Trainer:
        max_steps = 110

    module.trainer = Trainer()  # type: ignore[assignment]
    scheduler = module.configure_optimizers()["lr_scheduler"]["scheduler"]
    factor = scheduler.lr_lambdas[0]
    assert factor(4) == pytest.approx(0.5) and factor(9) == pytest.approx(1.0)
    assert factor(60) == pytest.approx(0.5)  # half-way through the decay, either shape
    assert factor(35) == pytest.approx(0.75 if schedule == "linear" else 0.8535, abs=1e-3)
    assert factor(110) == pytest.approx(0.0, abs=1e-9)


def test_t5_init_draws_each_weight_at_t5s_scale_and_leaves_logits_unscaled() -> None:
    """init='t5' follows Hugging Face's T5PreTrainedModel._init_weights (Mesh TensorFlow):
    q (d_model·d_head)^-1/2, k/v/o/wi d_model^-1/2, wo d_ff^-1/2, embeddings 1, and softmax
    over q·kᵀ without 1/√d_head."""
    dims = ModelDims(d_model=64, num_heads=2, num_layers=1, causal=True)
    torch.manual_seed(0)
    model = Transformer(50, dims, encodings.get("none")(dims), d_ff=256, init="t5", bias=False)
    block = model.blocks[0]
    qkv = block.attn.qkv.weight
    expected = {
        "q": (qkv[:64], (64 * 32) ** -0.5),
        "k": (qkv[64:128], 64**-0.5),
        "v": (qkv[128:], 64**-0.5),
        "o": (block.attn.out.weight, 64**-0.5),
        "wi": (block.ffn[0].weight, 64**-0.5),
        "wo": (block.ffn[2].weight, 256**-0.5),
        "embedding": (model.embedding.weight, 1.0),
    }
    for name, (weight, std) in expected.items():
        assert abs(weight.std().item() / std - 1) < 0.1, name
        assert abs(weight.mean().item()) < 0.1 * std, name
    x = torch.randn(1, 5, 64)
    q, k, v = block.attn.qkv(x).view(1, 5, 3, 2, 32).permute(2, 0, 3, 1, 4)
    causal = torch.ones(5, 5, dtype=torch.bool).triu(1)
    scores = (q @ k.transpose(-1, -2)).masked_fill(causal, float("-inf"))  # no 1/√32
    y = (scores.softmax(-1) @ v).transpose(1, 2).reshape(1, 5, 64)
    mask = model.attention_mask(torch.arange(5)[None], None, x.dtype)
    out = block.attn(x, mask, torch.arange(5)[None])
    assert torch.allclose(out, block.attn.out(y), atol=1e-5)
    default = Transformer(50, dims, encodings.get("none")(dims), d_ff=256, bias=False)
    assert default.blocks[0].attn.q_gain == 1.0  # today's behaviour by default


def test_unknown_init_is_one_line() -> None:
    with pytest.raises(PebenchError, match="model init must be 'default' or 't5'"):
        Transformer(10, DIMS, encodings.get("none")(DIMS), init="xavier")
