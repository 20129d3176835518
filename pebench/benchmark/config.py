"""Typed run configuration; YAML and command-line values are validated into these by
jsonargparse (see :mod:`pebench.benchmark.cli`)."""

from __future__ import annotations

from collections.abc import Callable
from dataclasses import dataclass, field
from pathlib import Path
from typing import Literal

from pebench.backbone import Activation, AttentionBackend, Norm
from pebench.encodings.base import ModelDims, PositionalEncoding
from pebench.tasks.base import Task

#: An encoding class (or a partial with its options bound) still waiting for model sizes.
Schedule = Literal["cosine", "linear"]
EncodingFactory = Callable[[ModelDims], PositionalEncoding]


@dataclass
class ModelConfig:
    """Transformer size, the same for every encoding in a comparison."""

    d_model: int = 64
    num_layers: int = 2
    num_heads: int = 4
    ffn_mult: int = 4
    #: feed-forward width; None = ffn_mult × d_model
    d_ff: int | None = None
    #: feed-forward activation (T5: relu)
    activation: Activation = "gelu"
    #: layer norm kind (T5: rmsnorm, no mean subtraction and no bias)
    norm: Norm = "layernorm"
    #: biases in the linear layers and LayerNorms (T5: false)
    bias: bool = True
    dropout: float = 0.0
    #: train on a sorted random subset of positions in [0, N) (Ruoss et al. 2023); None = 0..n−1
    randomized_positions: int | None = None
    #: also randomize positions at evaluation (else evaluation uses 0..n−1)
    randomize_eval: bool = False
    #: kernel for score biases: auto (FlexAttention on CUDA, SDPA on CPU), sdpa, or flex
    attention: AttentionBackend = "auto"


@dataclass
class OptimConfig:
    """AdamW with linear warm-up then a cosine (or linear) decay to ``min_lr_ratio × lr``."""

    lr: float = 1e-3
    weight_decay: float = 0.01
    warmup_steps: int = 100
    min_lr_ratio: float = 0.1
    grad_clip: float = 1.0
    #: AdamW's second-moment decay (nanoGPT's character-level configuration uses 0.99)
    beta2: float = 0.999
    #: decay after warm-up: cosine, or linear (Hugging Face's linear/polynomial schedule
    #: with min_lr_ratio 0)
    schedule: Schedule = "cosine"


@dataclass
class TrainConfig:
    """How long and where to train, and how often to evaluate."""

    max_steps: int = 2000
    batch_size: int = 64
    #: evaluate every N steps during training; ``None`` evaluates only at the end
    eval_every: int | None = None
    accelerator: str = "auto"
    #: devices per run; >1 is data parallel (DDP). In a sweep, pruning with DDP needs an
    #: RDB storage (--storage postgresql://...), as Optuna's Lightning callback requires.
    devices: int = 1
    precision: str = "32-true"
    progress: bool = True
    #: run only N training and N evaluation batches, for smoke tests (Lightning's fast_dev_run)
    fast_dev_run: int = 0
    #: save checkpoints/last.ckpt every N steps (for --resume); None saves at evaluations only
    checkpoint_every: int | None = 500


@dataclass
class RunSpec:
    """Everything one training run needs, already instantiated."""

    task: Task
    encoding: EncodingFactory
    model: ModelConfig = field(default_factory=ModelConfig)
    optim: OptimConfig = field(default_factory=OptimConfig)
    train: TrainConfig = field(default_factory=TrainConfig)
    seed: int = 0
    output_dir: Path = Path("runs/run")
    #: replace results already in ``output_dir`` instead of refusing to
    overwrite: bool = False
    #: continue an interrupted run in ``output_dir`` from its last checkpoint
    resume: bool = False
    #: the resolved configuration as YAML, saved with the run
    config_yaml: str | None = None
